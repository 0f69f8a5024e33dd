// The startup phase of a client: SSL/GSS negotiation, cancel requests, the StartupMessage.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <asio/awaitable.hpp>

#include "net/connection.hpp"
#include "pggat/backend_key.hpp"
#include "pggat/parameters.hpp"

namespace pggat::frontend {

struct StartupRequest {
  std::string user;
  std::string database;
  Parameters parameters;  // without user/database; `options -c` expanded
};

struct CancelRequest {
  BackendKey key;
};

// The connection is done with (an error was sent if one was due).
struct StartupFailed {
  std::string reason{};  // for the log, when there is more to say (a TLS handshake error)
};

using StartupOutcome = std::variant<StartupRequest, CancelRequest, StartupFailed>;

// Reads the client's first packets until a StartupMessage or CancelRequest.
// An SSLRequest gets 'S' and the TLS handshake when `tls` is set (the rest of
// the startup then runs encrypted), 'N' otherwise; GSSENCRequest gets 'N'.
// Malformed or unsupported input gets the FATAL error PostgreSQL would send.
// Unbounded: the caller cancels the stream's operations at its deadline (the
// App's sweep, see ClientSession::startup_deadline), which ends it in
// StartupFailed, and says why.
[[nodiscard]] asio::awaitable<StartupOutcome> read_startup(
    net::Connection& conn, std::shared_ptr<net::TlsServerContext> tls = nullptr);

// Splits a StartupMessage `options` value as PostgreSQL does (whitespace
// separated, backslash escapes) and applies `-c name=value` and
// `--name=value` to params. Returns an error text for anything else.
[[nodiscard]] std::optional<std::string> apply_options(std::string_view options, Parameters& params);

}  // namespace pggat::frontend
