// Hybrid routing: a client's hybrid.mode, and the WAL positions behind read-your-writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "backend/server_connection.hpp"
#include "pggat/expected.hpp"
#include "pggat/parameters.hpp"
#include "pggat/pg_error.hpp"

namespace pggat::pool {

// The startup parameter hybrid.mode: ro replicas only, wo primary only, rw
// (default) replica first and the primary when the replica cannot.
enum class HybridMode { rw, ro, wo };

// Takes hybrid.mode out of the client's parameters (servers never see it).
// An unknown value is the client's FATAL error, as PostgreSQL's for a bad
// startup parameter.
[[nodiscard]] Expected<HybridMode, PgError> take_hybrid_mode(Parameters& parameters);

// What a client of a hybrid pool carries from one unit of work to the next.
struct HybridClient {
  HybridMode mode = HybridMode::rw;
  // A write that could not move to the primary: this client starts its units there.
  bool primary_first = false;
  // read_your_writes: where the primary's WAL stood after the client's last
  // write; replicas that have not replayed this far are not used.
  std::uint64_t min_lsn = 0;
};

// The primary's WAL insert position now (one round trip): at or past the end
// of every transaction committed before. nullopt when the server failed.
[[nodiscard]] asio::awaitable<std::optional<std::uint64_t>> wal_insert_position(
    backend::ServerConnection& primary);

// How far a replica has replayed (one round trip). nullopt when it failed or
// is not in recovery.
[[nodiscard]] asio::awaitable<std::optional<std::uint64_t>> wal_replay_position(
    backend::ServerConnection& replica);

}  // namespace pggat::pool
