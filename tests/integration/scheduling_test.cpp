// The ServerPool's scheduling, driven directly: rob fair share against lifo, held-time accounting, the queue in timeouts.
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "net/spawn.hpp"
#include "pool/server_pool.hpp"
#include "support/postgres_server.hpp"

using namespace std::chrono_literals;
using pggat::PoolerKind;
using pggat::pool::ClientShare;
using pggat::pool::ServerPool;
using pggat::pool::ServerPoolOptions;
using pggat::test::PostgresServer;

namespace {

using PoolPtr = std::shared_ptr<ServerPool>;

pggat::Recipe one_server_recipe() {
  pggat::Recipe r;
  r.address = PostgresServer::instance().address();
  r.username = "app";
  r.password = "app-pass";
  r.database = "app";
  r.max_connections = 1;
  return r;
}

ServerPoolOptions options_for(PoolerKind pooler) {
  return ServerPoolOptions{.name = "sched", .pooler = pooler, .reset_query = ""};
}

// Runs `scenario(pool)` on a fresh io_context against a started pool, stops
// the pool when it ends and rethrows what it threw (a failed REQUIRE).
template <class Scenario>
void run_with_pool(ServerPoolOptions options, Scenario scenario) {
  asio::io_context io;
  auto pool = std::make_shared<ServerPool>(std::move(options));
  pool->add_recipe("primary", one_server_recipe());
  pool->start(pggat::Context{io.get_executor(), nullptr});
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(io, scenario(pool), [&](std::exception_ptr e) {
    finished = true;
    failure = e;
    pool->stop();
  });
  io.run_for(60s);
  REQUIRE(finished);
  if (failure) std::rethrow_exception(failure);
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(pggat::net::use_nothrow);
}

// Polls pred on the loop until it holds or `limit` passes; returns its last value.
template <class Pred>
asio::awaitable<bool> eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline) co_await pause(10ms);
  co_return pred();
}

// A client that holds the server for `work`, as a long transaction would.
asio::awaitable<void> hold_for(PoolPtr pool, std::shared_ptr<ClientShare> share,
                               std::chrono::milliseconds work) {
  auto server = co_await pool->acquire(5s, share);
  REQUIRE(server.has_value());
  co_await pause(work);
  pool->release(std::move(*server));
}

// Waits for a server, notes who got it, gives it straight back.
asio::awaitable<void> take_turn(PoolPtr pool, std::shared_ptr<ClientShare> share,
                                std::shared_ptr<std::vector<std::uint64_t>> order) {
  auto server = co_await pool->acquire(10s, share);
  CHECK(server.has_value());
  if (!server) co_return;
  order->push_back(share->client_id);
  pool->release(std::move(*server));
}

// One server. A heavy client has held it 300 ms, a light one a moment; both
// then queue behind a third, heavy first. Returns who was served in what order.
asio::awaitable<std::vector<std::uint64_t>> compete(PoolPtr pool) {
  auto heavy = std::make_shared<ClientShare>(ClientShare{.client_id = 1});
  auto light = std::make_shared<ClientShare>(ClientShare{.client_id = 2});
  auto holder = std::make_shared<ClientShare>(ClientShare{.client_id = 3});
  co_await hold_for(pool, heavy, 300ms);
  co_await hold_for(pool, light, 0ms);
  CHECK(heavy->held >= 300ms);
  CHECK(light->held < heavy->held);

  auto held = co_await pool->acquire(5s, holder);
  REQUIRE(held.has_value());
  auto order = std::make_shared<std::vector<std::uint64_t>>();
  const auto ex = co_await asio::this_coro::executor;
  pggat::net::spawn(ex, take_turn(pool, heavy, order), nullptr, "heavy client");
  const bool heavy_queued = co_await eventually([&] { return pool->stats().clients_waiting == 1; });
  REQUIRE(heavy_queued);
  pggat::net::spawn(ex, take_turn(pool, light, order), nullptr, "light client");
  const bool both_queued = co_await eventually([&] { return pool->stats().clients_waiting == 2; });
  REQUIRE(both_queued);

  pool->release(std::move(*held));
  const bool served = co_await eventually([&] { return order->size() == 2; });
  REQUIRE(served);
  co_return *order;
}

}  // namespace

TEST_CASE("rob gives a freed server to the waiter that has held servers the least", "[pool][rob]") {
  run_with_pool(options_for(PoolerKind::rob), [](PoolPtr pool) -> asio::awaitable<void> {
    const auto order = co_await compete(pool);
    // The light client arrived second and is served first.
    CHECK(order == std::vector<std::uint64_t>{2, 1});
  });
}

TEST_CASE("lifo serves waiters first come, first served whatever they held", "[pool][rob]") {
  run_with_pool(options_for(PoolerKind::lifo), [](PoolPtr pool) -> asio::awaitable<void> {
    const auto order = co_await compete(pool);
    CHECK(order == std::vector<std::uint64_t>{1, 2});
  });
}

TEST_CASE("held time is charged on release and on discard, only to the holder", "[pool][rob]") {
  run_with_pool(options_for(PoolerKind::rob), [](PoolPtr pool) -> asio::awaitable<void> {
    auto a = std::make_shared<ClientShare>(ClientShare{.client_id = 1});
    auto b = std::make_shared<ClientShare>(ClientShare{.client_id = 2});
    auto server = co_await pool->acquire(5s, a);
    REQUIRE(server.has_value());
    co_await pause(100ms);
    pool->discard(std::move(*server));
    CHECK(a->held >= 100ms);
    const auto after_first = a->held;

    server = co_await pool->acquire(5s, b);  // a new server, dialed
    REQUIRE(server.has_value());
    co_await pause(50ms);
    pool->release(std::move(*server));
    CHECK(b->held >= 50ms);
    CHECK(a->held == after_first);

    // Without a share, nobody is charged.
    server = co_await pool->acquire(5s);
    REQUIRE(server.has_value());
    pool->release(std::move(*server));
    CHECK(a->held == after_first);
    CHECK(pool->stats().servers_active == 0);
  });
}

TEST_CASE("an acquire timeout names the pool, the busy servers and the waiting clients",
          "[pool][timeout]") {
  run_with_pool(options_for(PoolerKind::lifo), [](PoolPtr pool) -> asio::awaitable<void> {
    auto held = co_await pool->acquire(5s);
    REQUIRE(held.has_value());
    auto errors = std::make_shared<std::vector<pggat::PgError>>();
    auto wait_in_vain = [](PoolPtr p, std::shared_ptr<std::vector<pggat::PgError>> out)
        -> asio::awaitable<void> {
      auto r = co_await p->acquire(1s);
      CHECK_FALSE(r.has_value());
      if (!r) out->push_back(r.error());
    };
    const auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < 3; ++i) pggat::net::spawn(ex, wait_in_vain(pool, errors), nullptr, "waiter");
    // All three queue before the first gives up, so they see 3, 2, then 1 waiting.
    const bool queued = co_await eventually([&] { return pool->stats().clients_waiting == 3; });
    REQUIRE(queued);
    const bool timed_out = co_await eventually([&] { return errors->size() == 3; });
    REQUIRE(timed_out);
    std::vector<std::string> messages;
    for (const auto& e : *errors) {
      CHECK(e.code == "53000");
      CHECK(e.is_fatal());
      messages.push_back(e.message);
    }
    std::sort(messages.begin(), messages.end());
    const std::string prefix =
        "timed out after 1s waiting for a server connection in pool \"sched\" (1 server busy, ";
    const std::string suffix = "; see client_acquire_timeout and max_connections)";
    CHECK(messages == std::vector<std::string>{prefix + "1 client waiting" + suffix,
                                               prefix + "2 clients waiting" + suffix,
                                               prefix + "3 clients waiting" + suffix});
    CHECK(pool->stats().acquire_timeouts == 3);
    pool->release(std::move(*held));
  });
}
