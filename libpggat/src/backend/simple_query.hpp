// pggat's own simple queries on a server it holds: settings, health checks, WAL positions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "backend/server_connection.hpp"
#include "pggat/pg_error.hpp"

namespace pggat::backend {

struct QueryResult {
  bool ok = false;  // the server answered up to ReadyForQuery
  std::optional<PgError> error;
  std::vector<std::optional<std::string>> first_row;
};

// Runs `sql` as a simple Query on a server that owes nothing, reads up to its
// ReadyForQuery and keeps the first row; the replies never reach a client.
// Unbounded in time: callers that cannot wait forever race it with a timer.
[[nodiscard]] asio::awaitable<QueryResult> run_query(ServerConnection& server, const std::string& sql);

}  // namespace pggat::backend
