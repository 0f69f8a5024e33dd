// HealthMonitor: checks each recipe of a ServerPool every check_period and tells the pool its health.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "backend/server_connection.hpp"
#include "pggat/basic_pool.hpp"
#include "pggat/context.hpp"
#include "pool/critics.hpp"
#include "pool/server_pool.hpp"

namespace pggat::pool {

struct HealthMonitorOptions {
  Critics critics{};
  std::chrono::nanoseconds check_period = std::chrono::seconds(1);  // 0 or less: 1s
  // The pool's recipes are replicas: checked for recovery and lag, and taken
  // out of rotation when unhealthy (see judge). Otherwise only the round trip
  // is measured, for the critics' penalty.
  bool replicas = false;
  std::chrono::nanoseconds max_replication_lag{0};  // 0: no limit
};

// When a recipe is checked next, after `failures` checks in a row that could
// not reach it: one period after a success or a first failure, then doubling
// per failure up to max(period, 30s).
[[nodiscard]] std::chrono::nanoseconds probe_delay(std::chrono::nanoseconds period,
                                                   unsigned failures);
// How long a check's dial, and then its query, may take: short enough that a
// stopped server does not hold its recipe's checks up for long (5s at most),
// never under a second, so a busy machine does not make a replica flap.
[[nodiscard]] std::chrono::nanoseconds health_check_timeout(
    std::chrono::nanoseconds connect_timeout, std::chrono::nanoseconds period);

// One coroutine per recipe, each with a connection of its own that it keeps
// between checks (not a pool server: not in the pool's stats), runs the check
// query (health_check_query) bounded by health_check_timeout, and passes
// judge()'s verdict to ServerPool::set_health, the lag bounded by the time
// since a check last found the replica caught up (bounded_lag). Recipes
// added to or removed from the pool while it runs are followed within a
// period. Transitions into and out of rotation are logged. Recipes awaiting
// SCRAM pass-through keys are not checked (there is nothing to log in with).
class HealthMonitor : public std::enable_shared_from_this<HealthMonitor> {
 public:
  HealthMonitor(std::shared_ptr<ServerPool> pool, HealthMonitorOptions options);
  ~HealthMonitor();
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Checks begin at once. The coroutines hold the monitor until stop().
  void start(const Context& context);
  // Ends the checks: sleeping ones at once, running ones within their timeout.
  // No health is set after it. The recipes keep their last health.
  void stop();

 private:
  struct Watch;

  [[nodiscard]] bool stopped() const;
  // Background tasks hold `self` so the monitor outlives them.
  asio::awaitable<void> follow_recipes(std::shared_ptr<HealthMonitor> self);
  void watch_new_recipes();
  asio::awaitable<void> watch_recipe(std::shared_ptr<HealthMonitor> self,
                                     std::shared_ptr<Watch> watch);
  asio::awaitable<HealthSample> check(Watch& watch, const backend::DialOptions& dial);
  void report(const Watch& watch, const RecipeHealth& before, const RecipeHealth& after) const;

  const std::shared_ptr<ServerPool> pool_;
  const HealthMonitorOptions options_;
  Context context_;
  mutable std::mutex mu_;
  bool started_ = false;
  bool stopped_ = false;
  // Weak: a timer must not outlive the io_context that the coroutine frames
  // holding them die with.
  std::map<std::string, std::weak_ptr<Watch>, std::less<>> watches_;
  std::weak_ptr<asio::steady_timer> round_timer_;
};

}  // namespace pggat::pool
