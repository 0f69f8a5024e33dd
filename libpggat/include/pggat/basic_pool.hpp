// The `basic` pool: one set of servers shared by every client of a route.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pggat/export.hpp"
#include "pggat/middleware.hpp"
#include "pggat/pool.hpp"

namespace pggat {

enum class PoolerKind { lifo, rob };

// Critics judge recipes by periodic checks; their penalties plus the recipe's
// priority decide where new servers are dialed and which idle server a client
// gets. A zero threshold takes the default.
struct LatencyCritic {
  // penalty: whole multiples of this in a check's round trip (default 300ms).
  std::chrono::nanoseconds query_threshold{0};
};
struct ReplicationCritic {
  std::chrono::nanoseconds query_threshold{0};  // as LatencyCritic's (default 300ms)
  // penalty: whole multiples of this in a replica's replay lag (default 1s).
  std::chrono::nanoseconds replication_threshold{0};
};
struct Critics {
  std::optional<LatencyCritic> latency{};
  std::optional<ReplicationCritic> replication{};
  [[nodiscard]] bool empty() const { return !latency && !replication; }
};
enum class ParameterStatusSync { none, initial, dynamic };

// pggat's basic-pool fields. Start from session() or transaction() (the
// presets pggat's "mode" picks) and override what you need.
struct PGGAT_API BasicPoolOptions {
  std::string name{};  // for logs and errors; the config loader fills it in
  PoolerKind pooler = PoolerKind::lifo;
  bool release_after_transaction = false;
  ParameterStatusSync parameter_status_sync = ParameterStatusSync::initial;
  bool extended_query_sync = false;
  std::string server_reset_query = "DISCARD ALL";  // empty: none
  std::chrono::nanoseconds server_reset_query_timeout = std::chrono::seconds(15);
  std::chrono::nanoseconds client_acquire_timeout = std::chrono::minutes(1);  // 0: forever
  std::chrono::nanoseconds server_idle_timeout = std::chrono::minutes(5);     // 0: never
  // Servers older than this are closed when returned, or by the janitor when
  // idle (PgBouncer's server_lifetime). 0: unlimited.
  std::chrono::nanoseconds server_lifetime = std::chrono::hours(1);
  // Idle servers unused for longer than this get an empty query before they
  // are lent; a failed check closes them unseen by the client. 0: always check.
  std::chrono::nanoseconds server_check_delay = std::chrono::seconds(30);
  // A client that keeps its server waiting (idle in a transaction, in the
  // middle of a message or an unsynced batch, or of COPY FROM STDIN) for
  // longer is cut with FATAL 25P03; the server is rolled back and returned
  // (PgBouncer's idle_transaction_timeout). 0: no limit.
  std::chrono::nanoseconds idle_transaction_timeout{0};
  std::chrono::nanoseconds server_reconnect_initial_time = std::chrono::seconds(5);
  std::chrono::nanoseconds server_reconnect_max_time = std::chrono::minutes(1);
  // When every recipe fails to connect, a waiting client is held this long
  // (counted from when it began to wait; its acquire timeout still applies)
  // for a later attempt instead of failing at once: what a switchover needs.
  // Attempts follow server_reconnect_initial_time. 0: fail at once.
  std::chrono::nanoseconds server_connect_retry_window{0};
  std::vector<std::string> tracked_parameters = default_tracked_parameters();
  // Transaction pooling with extended_query_sync: how many prepared statements
  // pggat keeps on each server (least recently used ones are closed). 0: no limit.
  std::size_t max_prepared_statements = 200;
  std::vector<MiddlewareFactory> middlewares{};
  Critics critics{};
  // How often recipes are checked (critics, and replica health in the hybrid pool).
  std::chrono::nanoseconds check_period = std::chrono::seconds(1);

  static std::vector<std::string> default_tracked_parameters();
  static BasicPoolOptions session();
  static BasicPoolOptions transaction();
};

// Throws std::invalid_argument naming the option when the combination is not
// supported.
[[nodiscard]] PGGAT_API std::shared_ptr<Pool> make_basic_pool(BasicPoolOptions options);

}  // namespace pggat
