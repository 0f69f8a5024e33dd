// The startup phase of a client: SSL/GSS negotiation, cancel requests, the StartupMessage.
#pragma once

#include <chrono>
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
struct StartupFailed {};

using StartupOutcome = std::variant<StartupRequest, CancelRequest, StartupFailed>;

// Reads the client's first packets until a StartupMessage or CancelRequest,
// answering SSLRequest and GSSENCRequest with 'N'. Malformed or unsupported
// input gets the FATAL error PostgreSQL would send. Bounded by `timeout`.
[[nodiscard]] asio::awaitable<StartupOutcome> read_startup(net::Connection& conn,
                                                           std::chrono::nanoseconds timeout);

// Splits a StartupMessage `options` value as PostgreSQL does (whitespace
// separated, backslash escapes) and applies `-c name=value` and
// `--name=value` to params. Returns an error text for anything else.
[[nodiscard]] std::optional<std::string> apply_options(std::string_view options, Parameters& params);

}  // namespace pggat::frontend
