// Server upkeep between clients: cleanup after one, a liveness check before the next.
#pragma once

#include <chrono>
#include <string>

#include <asio/awaitable.hpp>

#include "backend/server_connection.hpp"

namespace pggat::pool {

// Ends whatever the last client left open — COPY (CopyFail), unsynced
// extended-protocol messages (Sync), responses still owed (drained), an open
// transaction (ROLLBACK) — then runs reset_query (if any). True when the
// server is idle and fit for the next client; false means close it. The whole
// of it is bounded by `timeout`.
[[nodiscard]] asio::awaitable<bool> reset_server(backend::ServerConnection& server,
                                                 const std::string& reset_query,
                                                 std::chrono::nanoseconds timeout);

// Sends an empty query and expects EmptyQueryResponse and ReadyForQuery, all
// within `timeout`: true when the server answered and is idle. For an idle
// server that may have died without a word (a crashed host, a stopped backend).
[[nodiscard]] asio::awaitable<bool> check_server(backend::ServerConnection& server,
                                                 std::chrono::nanoseconds timeout);

// Reads and discards server messages until every owed ReadyForQuery has come.
// Returns false on I/O or protocol errors, or (when errors_fail) when the
// server answered with an ErrorResponse.
[[nodiscard]] asio::awaitable<bool> drain_server(backend::ServerConnection& server, bool errors_fail);

}  // namespace pggat::pool
