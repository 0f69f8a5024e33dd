// Pool: the servers behind a route and the clients they serve.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>

#include "pggat/client.hpp"
#include "pggat/context.hpp"
#include "pggat/export.hpp"
#include "pggat/handler.hpp"
#include "pggat/recipe.hpp"

namespace pggat {

// Durations counted by bucket, as Prometheus histograms want them.
struct PGGAT_API DurationHistogram {
  // Upper bounds of the buckets; a last bucket takes everything above.
  static constexpr std::array<std::chrono::microseconds, 16> bounds = {
      std::chrono::microseconds(100),    std::chrono::microseconds(250),
      std::chrono::microseconds(500),    std::chrono::milliseconds(1),
      std::chrono::microseconds(2500),   std::chrono::milliseconds(5),
      std::chrono::milliseconds(10),     std::chrono::milliseconds(25),
      std::chrono::milliseconds(50),     std::chrono::milliseconds(100),
      std::chrono::milliseconds(250),    std::chrono::milliseconds(500),
      std::chrono::seconds(1),           std::chrono::microseconds(2'500'000),
      std::chrono::seconds(5),           std::chrono::seconds(10)};
  // counts[i]: durations in (bounds[i-1], bounds[i]]; counts.back(): above the last bound.
  std::array<std::uint64_t, bounds.size() + 1> counts{};
  std::chrono::nanoseconds sum{0};

  [[nodiscard]] std::uint64_t count() const;
  void add(const DurationHistogram& other);
  void observe(std::chrono::nanoseconds d);
};

// A snapshot of a pool's figures. Counters (totals) are since the pool was made.
struct PoolStats {
  std::uint64_t clients = 0;          // being served now
  std::uint64_t clients_served = 0;   // clients it began to serve
  std::uint64_t clients_waiting = 0;  // waiting for a server
  std::uint64_t servers_idle = 0;
  std::uint64_t servers_active = 0;      // lent to a client
  std::uint64_t servers_connecting = 0;  // being dialed
  std::uint64_t servers_resetting = 0;   // being cleaned after a client
  std::uint64_t acquires = 0;            // total servers handed to clients
  std::uint64_t acquire_timeouts = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t servers_discarded = 0;  // closed because broken or unclean
  // Transactions (a ReadyForQuery "idle" after work) and queries (every
  // ReadyForQuery) relayed to clients, in both pooling modes.
  std::uint64_t transactions = 0;
  std::uint64_t queries = 0;
  std::uint64_t bytes_received = 0;  // from clients, while they were served
  std::uint64_t bytes_sent = 0;      // to clients, while they were served
  // How long the client waiting longest has waited so far (0: none waits).
  std::chrono::nanoseconds longest_wait{0};
  bool paused = false;  // see Pool::pause
  DurationHistogram acquire_time{};      // a client's wait for a server
  DurationHistogram transaction_time{};  // first message to the idle ReadyForQuery
  DurationHistogram query_time{};        // a message to its ReadyForQuery

  // Adds the other's counts, as when figures of several pools are summed.
  void add(const PoolStats& other);
};

// What a pool is, for labels and the admin console.
struct PoolDescription {
  std::string kind;  // "basic", "hybrid", or the embedder's own
  std::string mode;  // "session" or "transaction"
  std::string name;  // the pool's `name` option; empty when not set
};

// A snapshot of one recipe's figures.
struct RecipeStats {
  std::string name;
  std::string address;   // as dialed: "host:port" or a socket path
  std::string username;  // on the server
  std::string database;  // on the server
  std::uint64_t min_connections = 0;  // the recipe's limits
  std::uint64_t max_connections = 0;  // 0: none
  bool replica = false;  // a hybrid pool's replica recipe
  std::uint64_t servers_open = 0;  // connected: idle, lent or being cleaned
  std::uint64_t servers_idle = 0;
  // Servers of this recipe handed to clients: units of work in transaction
  // mode, clients in session mode.
  std::uint64_t transactions = 0;
  // Replica recipes: units of work that began here and were replayed on the
  // primary (a write, a failure, a recovery conflict).
  std::uint64_t replays_to_primary = 0;
  // Health, as the last check found it (see the critics): out of rotation, a
  // recipe gets no new clients and its idle servers close.
  bool in_rotation = true;
  int penalty = 0;
  std::chrono::nanoseconds replication_lag{0};
  std::uint64_t replay_lsn = 0;  // replicas: the highest replay position seen
  std::string problem;           // why it is out of rotation, or the last dial error
};

// One server connection of a pool, for the admin console's SHOW SERVERS.
struct ServerStats {
  std::uint64_t id = 0;  // pggat's number for it, as in the logs
  std::string recipe;
  std::string address;  // as dialed
  std::string username;
  std::string database;
  enum class State { idle, active, resetting };
  State state = State::idle;
  std::chrono::system_clock::time_point connected_at{};
  // Since when it is in its state: lent, or idle or being cleaned.
  std::chrono::system_clock::time_point state_since{};
  std::uint64_t client_id = 0;  // the client it is lent to (active), else 0
  std::int32_t backend_pid = 0;  // the server's process id, from its key data
  bool replica = false;
};

class PGGAT_API Pool {
 public:
  virtual ~Pool() = default;

  // Recipes can change while the pool runs (discovery adds and removes them).
  virtual void add_recipe(std::string name, Recipe recipe) = 0;
  virtual void remove_recipe(std::string_view name) = 0;
  // A read-only replica's recipe; only pools that split reads from writes
  // (hybrid) have them. remove_recipe removes replicas too.
  virtual void add_replica_recipe(std::string name, Recipe recipe) {
    (void)recipe;
    throw std::invalid_argument("replica \"" + name +
                                "\": this pool has no replicas (replicas need the hybrid pool)");
  }

  // Serves an authenticated client until it leaves.
  virtual asio::awaitable<Verdict> serve(Client& client) = 0;

  virtual void start(const Context& context) = 0;
  virtual void stop() = 0;

  [[nodiscard]] virtual PoolStats stats() const = 0;
  [[nodiscard]] virtual PoolDescription describe() const { return {}; }

  // For failovers (the console's PAUSE and RESUME): paused, a pool lets work
  // in progress finish, holds clients that want a server (they wait, up to
  // their acquire timeout, without an error) and closes its servers as they
  // come back; resumed, it dials anew and serves the held clients. A pool
  // that cannot pause throws std::logic_error.
  virtual void pause() { throw std::logic_error("this pool cannot pause"); }
  virtual void resume() {}
  [[nodiscard]] virtual std::vector<RecipeStats> recipe_stats() const { return {}; }
  [[nodiscard]] virtual std::vector<ServerStats> server_stats() const { return {}; }
};

}  // namespace pggat
