// Recipe health: the check query, reading its row, the critics' penalties and the rotation verdict.
#include "pool/critics.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>

#include "pggat/duration.hpp"

namespace pggat::pool {

namespace {

std::optional<std::uint32_t> parse_hex32(std::string_view text) {
  if (text.empty() || text.size() > 8) return std::nullopt;
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::chrono::nanoseconds or_default(std::chrono::nanoseconds threshold,
                                    std::chrono::nanoseconds fallback) {
  return threshold.count() > 0 ? threshold : fallback;
}

// Whole multiples of `threshold` in `d` (a negative duration has none).
std::int64_t multiples(std::chrono::nanoseconds d, std::chrono::nanoseconds threshold) {
  if (d.count() <= 0) return 0;
  return d.count() / threshold.count();
}

// Whole milliseconds: a lag read from `extract(epoch ...)` has microseconds
// nobody needs in a message.
std::string rounded(std::chrono::nanoseconds d) {
  return format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(d));
}

}  // namespace

std::optional<std::uint64_t> parse_lsn(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  // from_chars would accept neither a sign nor "0x", and parse_hex32 wants
  // the whole half, so "1/2/3" fails on its second half.
  const auto high = parse_hex32(text.substr(0, slash));
  const auto low = parse_hex32(text.substr(slash + 1));
  if (!high || !low) return std::nullopt;
  return (std::uint64_t{*high} << 32) | *low;
}

std::string format_lsn(std::uint64_t lsn) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                static_cast<unsigned>(lsn & 0xFFFFFFFFu));
  return buf;
}

std::chrono::nanoseconds bounded_lag(std::chrono::nanoseconds reported,
                                     std::optional<std::chrono::nanoseconds> since_caught_up) {
  return since_caught_up ? std::min(reported, *since_caught_up) : reported;
}

int penalty(const Critics& critics, const HealthSample& sample) {
  if (critics.empty()) return 0;
  if (!sample.reachable) return INT_MAX;
  // total stays within [0, INT_MAX], so the test below cannot overflow.
  std::int64_t total = 0;
  auto add = [&total](std::int64_t n) { total = n > INT_MAX - total ? INT_MAX : total + n; };
  if (critics.latency)
    add(multiples(sample.rtt,
                  or_default(critics.latency->query_threshold, default_query_threshold)));
  if (critics.replication) {
    add(multiples(sample.rtt,
                  or_default(critics.replication->query_threshold, default_query_threshold)));
    add(multiples(sample.lag, or_default(critics.replication->replication_threshold,
                                         default_replication_threshold)));
  }
  return static_cast<int>(total);
}

RecipeHealth judge(const Critics& critics, const HealthSample& sample, bool replica,
                   std::chrono::nanoseconds max_replication_lag) {
  RecipeHealth health;
  health.penalty = penalty(critics, sample);
  health.lag = sample.lag;
  health.replay_lsn = sample.replay_lsn;
  if (!sample.reachable) {
    health.problem = sample.error.empty() ? "unreachable" : sample.error;
    health.in_rotation = !replica;
    return health;
  }
  if (!replica) return health;
  if (!sample.in_recovery) {
    health.in_rotation = false;
    health.problem = "not in recovery: promoted, or not a replica";
  } else if (max_replication_lag.count() > 0 && sample.lag > max_replication_lag) {
    health.in_rotation = false;
    health.problem = "replication lag " + rounded(sample.lag) + " is over max_replication_lag " +
                     format_duration(max_replication_lag);
  }
  return health;
}

const std::string& health_check_query(bool replica) {
  static const std::string replica_check =
      "SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.pg_last_wal_replay_lsn(), "
      "CASE WHEN pg_catalog.pg_last_wal_receive_lsn() IS NULL "
      "OR pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() THEN 0 "
      "ELSE coalesce(extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp()), 0) "
      "END";
  static const std::string latency_check = "SELECT 0";
  return replica ? replica_check : latency_check;
}

bool read_check_row(const std::vector<std::optional<std::string>>& row, bool replica,
                    HealthSample& sample) {
  if (!replica) {
    if (!row.empty()) return true;
    sample.error = "health check returned no row";
    return false;
  }
  if (row.size() != 3 || !row[0] || !row[2] || (*row[0] != "t" && *row[0] != "f")) {
    sample.error = "health check returned an unexpected row";
    return false;
  }
  sample.in_recovery = *row[0] == "t";
  sample.replay_lsn = 0;
  if (row[1]) {
    const auto lsn = parse_lsn(*row[1]);
    if (!lsn) {
      sample.error = "health check returned a bad LSN \"" + *row[1] + "\"";
      return false;
    }
    sample.replay_lsn = *lsn;
  }
  double seconds = 0;
  const std::string& lag = *row[2];
  const auto [end, ec] = std::from_chars(lag.data(), lag.data() + lag.size(), seconds);
  if (ec != std::errc() || end != lag.data() + lag.size()) {
    sample.error = "health check returned a bad lag \"" + lag + "\"";
    return false;
  }
  // A replay timestamp a little ahead of the replica's clock reads as a
  // negative lag; a century is as bad as it gets and still fits.
  constexpr double max_seconds = 100.0 * 365 * 24 * 3600;
  seconds = seconds < 0 ? 0 : (seconds > max_seconds ? max_seconds : seconds);
  sample.lag = std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9));
  return true;
}

}  // namespace pggat::pool
