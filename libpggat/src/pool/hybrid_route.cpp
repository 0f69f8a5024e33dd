// Hybrid routing: hybrid.mode and WAL positions.
#include "pool/hybrid_route.hpp"

#include "backend/simple_query.hpp"
#include "pool/critics.hpp"

namespace pggat::pool {
namespace {

asio::awaitable<std::optional<std::uint64_t>> query_position(backend::ServerConnection& server,
                                                             const std::string& sql) {
  const backend::QueryResult r = co_await backend::run_query(server, sql);
  if (!r.ok || r.error || r.first_row.empty() || !r.first_row[0]) co_return std::nullopt;
  co_return parse_lsn(*r.first_row[0]);
}

}  // namespace

Expected<HybridMode, PgError> take_hybrid_mode(Parameters& parameters) {
  const std::string* value = parameters.find("hybrid.mode");
  if (value == nullptr) return HybridMode::rw;
  const std::string v = *value;
  parameters.erase("hybrid.mode");
  if (v == "rw" || v.empty()) return HybridMode::rw;
  if (v == "ro") return HybridMode::ro;
  if (v == "wo") return HybridMode::wo;
  return Unexpected(PgError::fatal(sqlstate::invalid_parameter_value,
                                   "invalid value for parameter \"hybrid.mode\": \"" + v +
                                       "\" (known: rw, ro, wo)"));
}

asio::awaitable<std::optional<std::uint64_t>> wal_insert_position(backend::ServerConnection& primary) {
  co_return co_await query_position(primary, "SELECT pg_catalog.pg_current_wal_insert_lsn()");
}

asio::awaitable<std::optional<std::uint64_t>> wal_replay_position(backend::ServerConnection& replica) {
  co_return co_await query_position(replica, "SELECT pg_catalog.pg_last_wal_replay_lsn()");
}

}  // namespace pggat::pool
