// What a recipe's health check means: the check's SQL, its row, penalties and the rotation verdict.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pggat/basic_pool.hpp"
#include "pool/server_policy.hpp"

namespace pggat::pool {

// PostgreSQL's text form of a WAL position, "16/B374D848": two hex numbers of
// up to 8 digits each, the high and the low 32 bits.
[[nodiscard]] std::optional<std::uint64_t> parse_lsn(std::string_view text);
[[nodiscard]] std::string format_lsn(std::uint64_t lsn);

// What one check of a recipe found.
struct HealthSample {
  bool reachable = false;           // dialed, and the check query answered in time
  std::chrono::nanoseconds rtt{0};  // the check query's round trip
  bool in_recovery = false;         // pg_is_in_recovery()
  std::uint64_t replay_lsn = 0;     // pg_last_wal_replay_lsn(); 0: none
  std::chrono::nanoseconds lag{0};  // how far replay is behind, 0 when caught up
  std::string error{};              // why it is not reachable
};

// The lag to judge a replica by. The check's lag is the age of the last
// commit replayed, which after a quiet spell on the primary is old however
// promptly the replica replays the first new record; a replica seen caught up
// (lag 0) `since_caught_up` ago has been behind for at most that long.
[[nodiscard]] std::chrono::nanoseconds bounded_lag(
    std::chrono::nanoseconds reported, std::optional<std::chrono::nanoseconds> since_caught_up);

// Critics' defaults, for thresholds left at zero.
inline constexpr std::chrono::nanoseconds default_query_threshold = std::chrono::milliseconds(300);
inline constexpr std::chrono::nanoseconds default_replication_threshold = std::chrono::seconds(1);

// The sum of the critics' penalties (each critic present adds its own):
// latency: whole multiples of query_threshold in the round trip; replication:
// the same plus whole multiples of replication_threshold in the lag.
// Saturates at INT_MAX. An unreachable sample gets INT_MAX when any critic is
// present, so it is the last choice (0 with no critics).
[[nodiscard]] int penalty(const Critics& critics, const HealthSample& sample);

// The rotation verdict. Replicas leave rotation when unreachable, when not in
// recovery (promoted, or a primary by mistake: writes could land there), or
// when lagging more than max_replication_lag (0: no limit). Other recipes
// never leave: the pool's own dialing and backoff deal with a primary that
// is down; only the penalty applies (and `problem` says what failed).
[[nodiscard]] RecipeHealth judge(const Critics& critics, const HealthSample& sample, bool replica,
                                 std::chrono::nanoseconds max_replication_lag);

// The check, one round trip. Replicas: pg_is_in_recovery(),
// pg_last_wal_replay_lsn() and the lag in seconds; a replica that has
// replayed all it received counts as caught up (lag 0), so an idle primary
// does not look like lag. Other recipes: `SELECT 0`, for the round trip only.
[[nodiscard]] const std::string& health_check_query(bool replica);

// Fills in_recovery, replay_lsn and lag from the check's first row; false
// (and sample.error set) when the row is not what health_check_query gives.
[[nodiscard]] bool read_check_row(const std::vector<std::optional<std::string>>& row, bool replica,
                                  HealthSample& sample);

}  // namespace pggat::pool
