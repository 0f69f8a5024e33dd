// Recipe health checks: a connection and a coroutine per recipe, backoff for failures, verdicts to the pool.
#include "pool/health_monitor.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include <asio/dispatch.hpp>
#include <asio/this_coro.hpp>

#include "auth/scram_secret.hpp"
#include "backend/simple_query.hpp"
#include "net/deadline.hpp"
#include "net/spawn.hpp"
#include "pggat/duration.hpp"

namespace pggat::pool {

using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::nanoseconds default_period = std::chrono::seconds(1);

HealthMonitorOptions with_defaults(HealthMonitorOptions options) {
  if (options.check_period.count() <= 0) options.check_period = default_period;
  return options;
}

HealthSample unreachable(std::string error) {
  HealthSample s;
  s.error = std::move(error);
  return s;
}

// A recipe changed under the same name (discovery, a config reload): the
// monitor's connection is to the old server, or logged in as someone else.
bool same_server(const backend::DialOptions& a, const backend::DialOptions& b) {
  return a.address.to_string() == b.address.to_string() && a.username == b.username &&
         a.password == b.password && a.database == b.database && a.ssl_mode == b.ssl_mode &&
         a.parameters == b.parameters;
}

}  // namespace

std::chrono::nanoseconds probe_delay(std::chrono::nanoseconds period, unsigned failures) {
  const std::chrono::nanoseconds cap =
      std::max(period, std::chrono::nanoseconds(std::chrono::seconds(30)));
  std::chrono::nanoseconds delay = period;
  for (unsigned i = 1; i < failures && delay < cap; ++i) delay = delay > cap / 2 ? cap : delay * 2;
  return std::min(delay, cap);
}

std::chrono::nanoseconds health_check_timeout(std::chrono::nanoseconds connect_timeout,
                                              std::chrono::nanoseconds period) {
  return std::min(check_timeout(connect_timeout),
                  std::max(period, std::chrono::nanoseconds(std::chrono::seconds(1))));
}

struct HealthMonitor::Watch {
  Watch(const asio::any_io_executor& ex, std::string n) : name(std::move(n)), timer(ex) {}
  const std::string name;
  asio::steady_timer timer;  // between checks
  std::unique_ptr<backend::ServerConnection> connection;
  backend::DialOptions dialed;  // what `connection` was dialed with
  RecipeHealth last;            // as the pool has it before any check: in rotation
  // When a check last found it caught up (lag 0), for bounded_lag.
  std::optional<Clock::time_point> caught_up_at;
};

HealthMonitor::HealthMonitor(std::shared_ptr<ServerPool> pool, HealthMonitorOptions options)
    : pool_(std::move(pool)), options_(with_defaults(std::move(options))) {}

HealthMonitor::~HealthMonitor() = default;

void HealthMonitor::start(const Context& context) {
  std::lock_guard lock(mu_);
  if (started_ || stopped_) return;
  started_ = true;
  context_ = context;
  net::spawn(context_.executor, follow_recipes(shared_from_this()), context_.log, "health monitor");
}

void HealthMonitor::stop() {
  std::vector<std::shared_ptr<Watch>> live;
  std::shared_ptr<asio::steady_timer> round;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    if (!started_) return;
    for (const auto& entry : watches_)
      if (auto w = entry.second.lock()) live.push_back(std::move(w));
    watches_.clear();
    round = round_timer_.lock();
  }
  // On the executor, where the coroutines use these: a sleeping check wakes
  // and ends, a running one fails at once on its closed connection.
  asio::dispatch(context_.executor, [live = std::move(live), round = std::move(round)] {
    if (round) round->cancel();
    for (const auto& w : live) {
      w->timer.cancel();
      if (w->connection) w->connection->close();
    }
  });
}

bool HealthMonitor::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

asio::awaitable<void> HealthMonitor::follow_recipes(
    [[maybe_unused]] std::shared_ptr<HealthMonitor> self) {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(mu_);
    round_timer_ = timer;
  }
  while (!stopped()) {
    watch_new_recipes();
    timer->expires_after(std::chrono::duration_cast<Clock::duration>(options_.check_period));
    (void)co_await timer->async_wait(net::use_nothrow);
  }
}

void HealthMonitor::watch_new_recipes() {
  const std::vector<RecipeTarget> targets = pool_->recipe_targets();
  std::lock_guard lock(mu_);
  if (stopped_) return;
  for (const RecipeTarget& t : targets) {
    auto& slot = watches_[t.name];
    if (!slot.expired()) continue;
    auto watch = std::make_shared<Watch>(context_.executor, t.name);
    slot = watch;
    net::spawn(context_.executor, watch_recipe(shared_from_this(), std::move(watch)), context_.log,
               "recipe health check");
  }
}

asio::awaitable<void> HealthMonitor::watch_recipe(
    [[maybe_unused]] std::shared_ptr<HealthMonitor> self, std::shared_ptr<Watch> watch) {
  unsigned failures = 0;
  for (;;) {
    if (stopped()) break;
    const std::optional<RecipeTarget> target = pool_->recipe_target(watch->name);
    if (!target) break;  // removed from the pool
    const auto began = Clock::now();
    const bool awaiting_keys =
        auth::is_scram_secret(target->dial.password) && !target->dial.scram_keys;
    if (!awaiting_keys) {
      if (watch->connection && !same_server(watch->dialed, target->dial)) {
        watch->connection->close();
        watch->connection.reset();
      }
      HealthSample sample = co_await check(*watch, target->dial);
      if (stopped()) break;  // stop() closed the connection: that is no verdict
      if (sample.reachable && sample.lag.count() == 0) {
        watch->caught_up_at = began;
      } else if (sample.reachable && watch->caught_up_at) {
        sample.lag = bounded_lag(sample.lag, Clock::now() - *watch->caught_up_at);
      }
      failures = sample.reachable ? 0 : failures + 1;
      const RecipeHealth health =
          judge(options_.critics, sample, options_.replicas, options_.max_replication_lag);
      report(*watch, watch->last, health);
      watch->last = health;
      pool_->set_health(watch->name, health);
    }
    watch->timer.expires_at(began + std::chrono::duration_cast<Clock::duration>(
                                        probe_delay(options_.check_period, failures)));
    (void)co_await watch->timer.async_wait(net::use_nothrow);
  }
  if (watch->connection) watch->connection->close();
  std::lock_guard lock(mu_);
  const auto it = watches_.find(watch->name);
  if (it != watches_.end() && it->second.lock() == watch) watches_.erase(it);
}

asio::awaitable<HealthSample> HealthMonitor::check(Watch& watch, const backend::DialOptions& dial) {
  const auto limit = health_check_timeout(dial.connect_timeout, options_.check_period);
  const std::string server = "server at \"" + dial.address.to_string() + "\"";
  const std::string& sql = health_check_query(options_.replicas);
  // A kept connection may have died since the last check (the server
  // restarted, or ended idle sessions): that earns one fresh dial, not a
  // failure.
  for (int attempt = 0;; ++attempt) {
    const bool kept = watch.connection != nullptr;
    if (!kept) {
      auto dialed = co_await net::with_timeout(backend::dial(dial, 0), limit);
      if (!dialed)
        co_return unreachable("health check could not connect to " + server + " within " +
                              format_duration(limit));
      if (!*dialed) co_return unreachable(dialed->error().message);
      watch.connection = std::move(dialed->value());
      watch.dialed = dial;
      if (stopped()) co_return unreachable("the health monitor stopped");
    }
    const auto sent = Clock::now();
    auto result = co_await net::with_timeout(backend::run_query(*watch.connection, sql), limit);
    const auto rtt = Clock::now() - sent;
    if (!result || !result->ok) {
      watch.connection->close();
      watch.connection.reset();
      if (!result)
        co_return unreachable("health check of " + server + " timed out after " +
                              format_duration(limit));
      if (kept && attempt == 0) continue;
      co_return unreachable("health check lost its connection to " + server);
    }
    if (result->error)
      co_return unreachable("health check on " + server + " failed: " + result->error->message);
    HealthSample sample;
    sample.reachable = true;
    sample.rtt = rtt;
    if (!read_check_row(result->first_row, options_.replicas, sample)) sample.reachable = false;
    co_return sample;
  }
}

void HealthMonitor::report(const Watch& watch, const RecipeHealth& before,
                           const RecipeHealth& after) const {
  if (!context_.log) return;
  if (before.in_rotation && !after.in_rotation) {
    context_.log->warn("pool \"{}\": recipe \"{}\" is out of rotation: {}", pool_->display_name(),
                       watch.name, after.problem);
  } else if (!before.in_rotation && after.in_rotation) {
    context_.log->info("pool \"{}\": recipe \"{}\" is back in rotation", pool_->display_name(), watch.name);
  } else if (after.in_rotation && !after.problem.empty() && before.problem.empty()) {
    // A primary-side recipe stays in rotation; its dial errors are the pool's to log.
    context_.log->debug("pool \"{}\": health check of recipe \"{}\": {}", pool_->display_name(), watch.name,
                        after.problem);
  }
}

}  // namespace pggat::pool
