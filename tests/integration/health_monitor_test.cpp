// The health monitor against real replicas: rotation follows stops, lag and promotion; the pool honours it.
#include <catch2/catch.hpp>

#include <signal.h>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <atomic>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pool/critics.hpp"
#include "pool/health_monitor.hpp"
#include "pool/server_pool.hpp"
#include "support/pq.hpp"
#include "support/replica_set.hpp"

using namespace std::chrono_literals;
using pggat::PgError;
using pggat::RecipeStats;
using pggat::pool::HealthMonitor;
using pggat::pool::HealthMonitorOptions;
using pggat::pool::ServerHandle;
using pggat::pool::ServerPool;
using pggat::test::Replica;
using pggat::test::ReplicaSet;
using pggat::test::ReplicaStopGuard;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto check_period = 150ms;
// Application name of the pool's and the monitor's connections, to find them
// in pg_stat_activity.
constexpr const char* application_name = "pggat-health-test";

pggat::Recipe recipe_at(const std::string& address) {
  pggat::Recipe r;
  r.address = address;
  r.username = "app";
  r.password = "app-pass";
  r.database = "app";
  r.parameters = pggat::Parameters{{"application_name", application_name}};
  r.connect_timeout = 5s;
  return r;
}

HealthMonitorOptions replica_checks(std::chrono::nanoseconds max_lag = 10s) {
  return HealthMonitorOptions{.critics = {},
                              .check_period = check_period,
                              .replicas = true,
                              .max_replication_lag = max_lag};
}

// Polls until pred() holds or the deadline passes; returns pred()'s last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 20s) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);  // poll interval
  }
  return pred();
}

// A ServerPool over the given recipes (name, address) with a HealthMonitor,
// both running on an io_context of their own thread, as a pool handler
// would start them.
class MonitoredPool {
 public:
  MonitoredPool(const std::vector<std::pair<std::string, std::string>>& recipes,
                HealthMonitorOptions options)
      : work_(io_.get_executor()) {
    pool_ = std::make_shared<ServerPool>(
        pggat::pool::ServerPoolOptions{.name = "health", .reset_query = ""});
    for (const auto& recipe : recipes) pool_->add_recipe(recipe.first, recipe_at(recipe.second));
    monitor_ = std::make_shared<HealthMonitor>(pool_, options);
    const pggat::Context context{io_.get_executor(), nullptr};
    pool_->start(context);
    monitor_->start(context);
    thread_ = std::thread([this] {
      io_.run();
      finished_.set_value();
    });
  }
  ~MonitoredPool() { (void)shutdown(); }
  MonitoredPool(const MonitoredPool&) = delete;
  MonitoredPool& operator=(const MonitoredPool&) = delete;

  // Stops monitor and pool; true when every coroutine then ended by itself
  // (the loop ran out of work) within a few seconds.
  bool shutdown() {
    if (!thread_.joinable()) return true;
    on_loop([this] {
      monitor_->stop();
      pool_->stop();
    });
    work_.reset();
    const bool ended = finished_.get_future().wait_for(10s) == std::future_status::ready;
    if (!ended) io_.stop();
    thread_.join();
    return ended;
  }

  template <class F>
  void on_loop(F f) {
    std::packaged_task<void()> task(std::move(f));
    auto done = task.get_future();
    asio::post(io_, [&task] { task(); });
    done.get();
  }

  pggat::Expected<ServerHandle, PgError> acquire(std::chrono::nanoseconds timeout = 10s) {
    // Boxed: co_spawn's future wants a default-constructible result.
    using Result = std::optional<pggat::Expected<ServerHandle, PgError>>;
    auto boxed = [](std::shared_ptr<ServerPool> pool,
                    std::chrono::nanoseconds limit) -> asio::awaitable<Result> {
      co_return co_await pool->acquire(limit);
    };
    return asio::co_spawn(io_, boxed(pool_, timeout), asio::use_future).get().value();
  }
  void release(ServerHandle server) {
    on_loop([&] { pool_->release(std::move(server)); });
  }
  void add_recipe(const std::string& name, const std::string& address) {
    on_loop([&] { pool_->add_recipe(name, recipe_at(address)); });
  }
  void remove_recipe(const std::string& name) {
    on_loop([&] { pool_->remove_recipe(name); });
  }

  [[nodiscard]] std::optional<RecipeStats> stats_of(const std::string& name) const {
    for (auto& s : pool_->recipe_stats())
      if (s.name == name) return s;
    return std::nullopt;
  }
  [[nodiscard]] bool in_rotation(const std::string& name) const {
    const auto s = stats_of(name);
    return s && s->in_rotation;
  }
  [[nodiscard]] bool out_of_rotation(const std::string& name) const {
    const auto s = stats_of(name);
    return s && !s->in_rotation;
  }
  // In rotation and checked at least once (a replica's position is known).
  [[nodiscard]] bool checked(const std::string& name) const {
    const auto s = stats_of(name);
    return s && s->in_rotation && s->replay_lsn > 0;
  }
  [[nodiscard]] std::string problem_of(const std::string& name) const {
    const auto s = stats_of(name);
    return s ? s->problem : "(no such recipe)";
  }
  [[nodiscard]] ServerPool& pool() const { return *pool_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::shared_ptr<ServerPool> pool_;
  std::shared_ptr<HealthMonitor> monitor_;
  std::promise<void> finished_;
  std::thread thread_;
};

std::vector<std::pair<std::string, std::string>> both_replicas(const ReplicaSet& replicas) {
  return {{"replica0", replicas[0].address()}, {"replica1", replicas[1].address()}};
}

std::string address_of(const ServerHandle& server) {
  return server->connection->address.to_string();
}

// Connections of this test's application on a server (the monitor's and the pool's).
int test_backends(const pggat::test::ThrowawayCluster& server) {
  return server
      .execute(std::string("SELECT count(*) FROM pg_stat_activity WHERE application_name = '") +
               application_name + "'")[0][0]
      .as<int>();
}

// A committed row on the primary every ~100 ms while it lives, so a delayed
// replica has something to lag behind.
class Writer {
 public:
  explicit Writer(const ReplicaSet& replicas) {
    replicas.primary().execute("DROP TABLE IF EXISTS health_monitor_ticks", "app");
    replicas.primary().execute("CREATE TABLE health_monitor_ticks (at timestamptz)", "app");
    replicas.primary().execute("GRANT ALL ON health_monitor_ticks TO app", "app");
    thread_ = std::thread([this, conninfo = replicas.primary().conninfo("app", "app-pass")] {
      pggat::test::PqConnection app(conninfo);
      while (!stop_) {
        if (!app.exec("INSERT INTO health_monitor_ticks VALUES (now())").ok()) ++failures_;
        std::this_thread::sleep_for(100ms);  // the write rate, not a synchronisation
      }
    });
  }
  ~Writer() {
    stop_ = true;
    thread_.join();
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  [[nodiscard]] int failures() const { return failures_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> failures_{0};
  std::thread thread_;
};

// SIGSTOP on a replica's postmaster and this test's backends there, SIGCONT
// when it ends: it accepts TCP connections and answers nothing.
class FreezeGuard {
 public:
  explicit FreezeGuard(const Replica& replica) {
    std::ifstream pid_file(replica.data_dir() + "/postmaster.pid");
    pid_t postmaster = 0;
    pid_file >> postmaster;
    REQUIRE(postmaster > 0);
    const auto backends =
        replica.execute(std::string("SELECT pid FROM pg_stat_activity WHERE application_name = '") +
                        application_name + "'");
    REQUIRE(backends.size() > 0);  // the monitor's connection at least
    pids_.push_back(postmaster);
    for (const auto& row : backends) pids_.push_back(row[0].as<pid_t>());
    for (const pid_t pid : pids_) REQUIRE(::kill(pid, SIGSTOP) == 0);
  }
  ~FreezeGuard() {
    for (const pid_t pid : pids_) ::kill(pid, SIGCONT);
  }
  FreezeGuard(const FreezeGuard&) = delete;
  FreezeGuard& operator=(const FreezeGuard&) = delete;

 private:
  std::vector<pid_t> pids_;
};

}  // namespace

TEST_CASE("health monitor: replicas are in rotation with their replay positions",
          "[replicas][health]") {
  auto& replicas = ReplicaSet::instance();
  const std::string lsn = replicas.primary_lsn();
  replicas.wait_for_replay(lsn);
  const std::uint64_t replayed = pggat::pool::parse_lsn(lsn).value();

  MonitoredPool pool({{"replica0", replicas[0].address()}}, replica_checks());
  REQUIRE(eventually([&] { return pool.checked("replica0"); }));
  // A recipe added at run time is followed.
  pool.add_recipe("replica1", replicas[1].address());
  REQUIRE(eventually([&] { return pool.checked("replica1"); }));
  for (const char* name : {"replica0", "replica1"}) {
    INFO(name);
    const auto s = pool.stats_of(name).value();
    CHECK(s.in_rotation);
    CHECK(s.replay_lsn >= replayed);
    CHECK(s.problem.empty());
    CHECK(s.penalty == 0);       // no critics
    CHECK(s.servers_open == 0);  // the monitor's connection is not a pool server
  }
  CHECK(pool.pool().stats().servers_idle == 0);
  // The monitor's, kept between checks (other tests' may still be closing).
  CHECK(eventually([&] { return test_backends(replicas[0]) == 1; }));

  // A removed recipe is no longer checked: its connection closes.
  pool.remove_recipe("replica0");
  CHECK(eventually([&] { return test_backends(replicas[0]) == 0; }));
  CHECK(pool.checked("replica1"));
  CHECK(pool.shutdown());
  CHECK(eventually([&] { return test_backends(replicas[1]) == 0; }));
}

TEST_CASE("health monitor: a stopped replica leaves rotation, the other serves, it comes back",
          "[replicas][health]") {
  auto& replicas = ReplicaSet::instance();
  MonitoredPool pool(both_replicas(replicas), replica_checks());
  REQUIRE(eventually([&] { return pool.checked("replica0") && pool.checked("replica1"); }));

  // Equal replicas share the servers: the second goes to the other one.
  auto first = pool.acquire();
  REQUIRE(first.has_value());
  auto second = pool.acquire();
  REQUIRE(second.has_value());
  CHECK(address_of(*first) != address_of(*second));
  pool.release(std::move(*first));
  pool.release(std::move(*second));

  {
    ReplicaStopGuard stopped(replicas[0]);
    REQUIRE(eventually([&] { return pool.out_of_rotation("replica0"); }));
    CHECK_FALSE(pool.problem_of("replica0").empty());
    CHECK(pool.in_rotation("replica1"));
    for (int i = 0; i < 3; ++i) {
      auto server = pool.acquire();
      REQUIRE(server.has_value());
      CHECK(address_of(*server) == replicas[1].address());
      pool.release(std::move(*server));
    }
    CHECK(pool.stats_of("replica0")->servers_open == 0);
  }
  REQUIRE(eventually([&] { return pool.in_rotation("replica0"); }, 60s));
  CHECK(pool.problem_of("replica0").empty());
  // And it gets servers again.
  auto a = pool.acquire();
  auto b = pool.acquire();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(address_of(*a) != address_of(*b));
  pool.release(std::move(*a));
  pool.release(std::move(*b));
  CHECK(pool.shutdown());
}

TEST_CASE(
    "health monitor: a replica lagging past max_replication_lag leaves rotation until it "
    "catches up",
    "[replicas][health]") {
  auto& replicas = ReplicaSet::instance();
  HealthMonitorOptions options = replica_checks(500ms);
  options.critics.replication = pggat::ReplicationCritic{.replication_threshold = 250ms};
  MonitoredPool pool(both_replicas(replicas), options);
  // A 250ms threshold: a replica replaying a record written after a quiet spell looks
  // lagging by that spell for a moment (pg_last_xact_replay_timestamp), so under load
  // both may take a few checks to come in.
  REQUIRE(eventually([&] { return pool.checked("replica0") && pool.checked("replica1"); }, 30s));
  // An idle server on each replica.
  auto first = pool.acquire();
  auto second = pool.acquire();
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  pool.release(std::move(*first));
  pool.release(std::move(*second));
  REQUIRE(pool.stats_of("replica1")->servers_idle == 1);

  {
    pggat::test::ApplyDelayGuard delayed(replicas[1], 2000ms);
    Writer writer(replicas);  // stops before the delay is lifted
    REQUIRE(eventually([&] { return pool.out_of_rotation("replica1"); }));
    const auto lagging = pool.stats_of("replica1").value();
    CHECK_THAT(lagging.problem, Catch::Matchers::StartsWith("replication lag "));
    CHECK_THAT(lagging.problem, Catch::Matchers::EndsWith(" is over max_replication_lag 500ms"));
    CHECK(lagging.replication_lag > 500ms);
    CHECK(lagging.penalty >= 2);  // whole 250ms of lag
    // Its idle server closed, though the replica is up; the other serves.
    CHECK(lagging.servers_open == 0);
    INFO("replica0: " << pool.problem_of("replica0"));
    CHECK(pool.in_rotation("replica0"));
    for (int i = 0; i < 3; ++i) {
      auto server = pool.acquire();
      REQUIRE(server.has_value());
      CHECK(address_of(*server) == replicas[0].address());
      pool.release(std::move(*server));
    }
    CHECK(writer.failures() == 0);
  }
  REQUIRE(eventually([&] { return pool.in_rotation("replica1"); }));
  CHECK(pool.problem_of("replica1").empty());
  CHECK(pool.stats_of("replica1")->replication_lag < 500ms);
  CHECK(pool.shutdown());
}

TEST_CASE("health monitor: with every replica out of rotation acquire fails at once with 08006",
          "[replicas][health]") {
  auto& replicas = ReplicaSet::instance();
  MonitoredPool pool(both_replicas(replicas), replica_checks());
  REQUIRE(eventually([&] { return pool.checked("replica0") && pool.checked("replica1"); }));
  {
    ReplicaStopGuard stopped0(replicas[0]);
    ReplicaStopGuard stopped1(replicas[1]);
    REQUIRE(eventually(
        [&] { return pool.out_of_rotation("replica0") && pool.out_of_rotation("replica1"); }));
    const auto asked = Clock::now();
    auto server = pool.acquire(30s);
    const auto waited = Clock::now() - asked;
    REQUIRE_FALSE(server.has_value());
    CHECK(waited < 2s);  // not the 30s timeout: nothing to wait for
    CHECK(server.error().code == "08006");
    CHECK(server.error().severity == "FATAL");
    const std::string& message = server.error().message;
    CHECK_THAT(message,
               Catch::Matchers::StartsWith("no server is in rotation in pool \"health\": "));
    CHECK_THAT(message, Catch::Matchers::Contains("replica0: " + pool.problem_of("replica0")));
    CHECK_THAT(message, Catch::Matchers::Contains("replica1: " + pool.problem_of("replica1")));
    CHECK(pool.pool().stats().clients_waiting == 0);
  }
  REQUIRE(eventually([&] { return pool.in_rotation("replica0") && pool.in_rotation("replica1"); },
                     60s));
  auto server = pool.acquire();
  REQUIRE(server.has_value());
  pool.release(std::move(*server));
  CHECK(pool.shutdown());
}

TEST_CASE("health monitor: a primary given as a replica is out of rotation, not in recovery",
          "[replicas][health]") {
  auto& replicas = ReplicaSet::instance();
  SECTION("checked as a replica: out") {
    MonitoredPool pool({{"primary", replicas.primary().address()}}, replica_checks());
    REQUIRE(eventually([&] { return pool.out_of_rotation("primary"); }));
    CHECK(pool.problem_of("primary") == "not in recovery: promoted, or not a replica");
    CHECK(pool.stats_of("primary")->replay_lsn == 0);
    auto server = pool.acquire();
    REQUIRE_FALSE(server.has_value());
    CHECK(server.error().code == "08006");
    CHECK_THAT(server.error().message,
               Catch::Matchers::Contains("primary: not in recovery: promoted, or not a replica"));
    CHECK(pool.shutdown());
  }
  SECTION("checked for latency only: in rotation, penalised by its round trip") {
    // A 1ns threshold makes any round trip a penalty: proof that a check ran.
    HealthMonitorOptions options{
        .critics = {.latency = pggat::LatencyCritic{.query_threshold = 1ns}},
        .check_period = check_period};
    MonitoredPool pool({{"primary", replicas.primary().address()}}, options);
    REQUIRE(eventually([&] { return pool.stats_of("primary")->penalty > 0; }));
    CHECK(pool.in_rotation("primary"));
    CHECK(pool.problem_of("primary").empty());
    auto server = pool.acquire();
    REQUIRE(server.has_value());
    pool.release(std::move(*server));
    CHECK(pool.shutdown());
  }
}

TEST_CASE("health monitor: a frozen replica times out its checks without holding up the other",
          "[replicas][health]") {
  auto& replicas = ReplicaSet::instance();
  MonitoredPool pool(both_replicas(replicas), replica_checks());
  REQUIRE(eventually([&] { return pool.checked("replica0") && pool.checked("replica1"); }));
  {
    FreezeGuard frozen(replicas[0]);
    REQUIRE(eventually([&] { return pool.out_of_rotation("replica0"); }));
    CHECK_THAT(pool.problem_of("replica0"), Catch::Matchers::Contains("health check"));
    // The other replica's checks go on: its new position shows up.
    replicas.primary().execute("CREATE TABLE IF NOT EXISTS health_monitor_frozen (x int)", "app");
    replicas.primary().execute("INSERT INTO health_monitor_frozen VALUES (1)", "app");
    const std::string lsn = replicas.primary_lsn();
    replicas[1].wait_for_replay(lsn);
    const std::uint64_t replayed = pggat::pool::parse_lsn(lsn).value();
    CHECK(eventually([&] { return pool.stats_of("replica1")->replay_lsn >= replayed; }));
    CHECK(pool.in_rotation("replica1"));
  }
  REQUIRE(eventually([&] { return pool.in_rotation("replica0"); }, 60s));
  CHECK(pool.shutdown());
}
