// The server pool's pure decisions: next waiter (lifo, rob), lifetime, check delay, timeout message.
#include "pool/server_policy.hpp"

#include <catch2/catch.hpp>

#include <deque>
#include <vector>

using namespace std::chrono_literals;
using pggat::PoolerKind;
using pggat::pool::acquire_timeout_message;
using pggat::pool::check_timeout;
using pggat::pool::needs_check;
using pggat::pool::next_waiter;
using pggat::pool::past_lifetime;
using Held = std::vector<std::chrono::nanoseconds>;

namespace {

std::size_t pick(PoolerKind pooler, const Held& held) {
  return next_waiter(pooler, held, [](std::chrono::nanoseconds h) { return h; });
}

}  // namespace

TEST_CASE("next_waiter: lifo serves waiters first come, first served", "[pool][server_policy]") {
  CHECK(pick(PoolerKind::lifo, {5s}) == 0);
  CHECK(pick(PoolerKind::lifo, {5s, 1s, 0s}) == 0);
  CHECK(pick(PoolerKind::lifo, {0s, 9s}) == 0);
}

TEST_CASE("next_waiter: rob picks the waiter that has held servers the least",
          "[pool][server_policy]") {
  CHECK(pick(PoolerKind::rob, {5s}) == 0);
  CHECK(pick(PoolerKind::rob, {5s, 1s, 3s}) == 1);
  CHECK(pick(PoolerKind::rob, {5s, 3s, 1ms}) == 2);
  CHECK(pick(PoolerKind::rob, {1ns, 0ns}) == 1);
  // Equals (clients with no history, say) stay in arrival order.
  CHECK(pick(PoolerKind::rob, {0s, 0s, 0s}) == 0);
  CHECK(pick(PoolerKind::rob, {2s, 1s, 1s}) == 1);
  // The projection reads whatever the waiters are.
  struct W {
    int id;
    std::chrono::nanoseconds held;
  };
  const std::deque<W> waiters{{7, 30ms}, {8, 10ms}, {9, 20ms}};
  CHECK(waiters[next_waiter(PoolerKind::rob, waiters, [](const W& w) { return w.held; })].id == 8);
}

TEST_CASE("past_lifetime: 0 is unlimited, otherwise age against the limit", "[pool][server_policy]") {
  const auto t0 = std::chrono::steady_clock::time_point{} + 100h;
  CHECK_FALSE(past_lifetime(t0, t0 + 59min, 1h));
  CHECK(past_lifetime(t0, t0 + 1h, 1h));
  CHECK(past_lifetime(t0, t0 + 2h, 1h));
  CHECK_FALSE(past_lifetime(t0, t0 + 1000h, 0s));
}

TEST_CASE("needs_check: 0 always checks, otherwise only after the delay", "[pool][server_policy]") {
  const auto t0 = std::chrono::steady_clock::time_point{} + 100h;
  CHECK(needs_check(t0, t0, 0s));
  CHECK_FALSE(needs_check(t0, t0 + 30s, 30s));
  CHECK(needs_check(t0, t0 + 31s, 30s));
  CHECK(check_timeout(15s) == 5s);
  CHECK(check_timeout(1s) == 1s);
  CHECK(check_timeout(0s) == 5s);  // no connect timeout: still bounded
}

TEST_CASE("acquire_timeout_message names the pool and the queue", "[pool][server_policy]") {
  CHECK(acquire_timeout_message(1s, "x", 4, 7) ==
        "timed out after 1s waiting for a server connection in pool \"x\" (4 servers busy, 7 "
        "clients waiting; see client_acquire_timeout and max_connections)");
  CHECK(acquire_timeout_message(300ms, "app@127.0.0.1:5432/app", 1, 1) ==
        "timed out after 300ms waiting for a server connection in pool "
        "\"app@127.0.0.1:5432/app\" (1 server busy, 1 client waiting; see "
        "client_acquire_timeout and max_connections)");
  CHECK_THAT(acquire_timeout_message(1s, "x", 0, 2), Catch::Matchers::Contains("(0 servers busy, 2 clients"));
}
