// Session relay: both directions between a client and the server it holds.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <asio/awaitable.hpp>

#include "backend/server_connection.hpp"
#include "frontend/client_session.hpp"
#include "pggat/middleware.hpp"
#include "pggat/pg_error.hpp"
#include "pool/pool_meter.hpp"

namespace pggat::pool {

struct RelayOutcome {
  enum class End {
    client_terminated,  // Terminate: a clean goodbye
    client_gone,        // EOF or I/O error on the client
    client_protocol_error,
    server_gone,  // the server closed, failed or spoke nonsense
  };
  End end = End::client_terminated;
  // What the client should still be told (protocol errors, a lost server),
  // unless it already got a FATAL from the server.
  std::shared_ptr<const PgError> client_error;
  std::string detail;  // for the log
};

// Relays until one side ends, through the client's middlewares. Afterwards
// server.torn says whether the server's byte stream was cut mid-message.
// `meter`, when given, counts the queries, transactions and traffic.
[[nodiscard]] asio::awaitable<RelayOutcome> relay_session(
    detail::ClientSession& client, backend::ServerConnection& server,
    std::span<const std::unique_ptr<Middleware>> middlewares,
    std::chrono::nanoseconds idle_transaction_timeout = {}, ClientMeter* meter = nullptr);

}  // namespace pggat::pool
