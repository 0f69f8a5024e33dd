// The server pool's pure decisions: next waiter (lifo, rob), which recipe to dial or lend from, lifetime, check delay, messages.
#include "pool/server_policy.hpp"

#include <catch2/catch.hpp>

#include <climits>
#include <deque>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using pggat::PoolerKind;
using pggat::pool::acquire_timeout_message;
using pggat::pool::check_timeout;
using pggat::pool::needs_check;
using pggat::pool::needs_peek;
using pggat::pool::peek_after;
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

TEST_CASE("nearby_waiter: a waiter on the server's thread among the first few, never for long",
          "[pool][server_policy]") {
  using pggat::pool::nearby_waiter;
  struct W {
    bool local;
    std::uint32_t passes;
  };
  auto pick_nearby = [](const std::deque<W>& ws, std::size_t due) {
    return nearby_waiter(ws, due, [](const W& w) { return w.local; },
                         [](const W& w) { return w.passes; }, /*window=*/3, /*max_passes=*/2);
  };
  CHECK(pick_nearby({{true, 0}, {true, 0}}, 0) == 0);                // the due one when it is local
  CHECK(pick_nearby({{true, 0}, {false, 0}, {true, 0}}, 2) == 2);
  CHECK(pick_nearby({{false, 0}, {false, 0}, {true, 0}}, 0) == 2);  // else the first local one
  CHECK(pick_nearby({{true, 0}, {false, 0}}, 1) == 0);              // (rob's choice passed over)
  CHECK(pick_nearby({{false, 0}, {false, 0}, {false, 0}, {true, 0}}, 0) == 0);  // beyond the window
  CHECK(pick_nearby({{false, 0}, {false, 0}}, 1) == 1);             // none local: the due one
  CHECK(pick_nearby({{false, 1}, {true, 0}}, 0) == 1);
  CHECK(pick_nearby({{false, 2}, {true, 0}}, 0) == 0);  // passed over enough: its turn
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

TEST_CASE("needs_peek: a server released a moment ago is lent without a look, one idle longer is looked at",
          "[pool][server_policy]") {
  const auto t0 = std::chrono::steady_clock::time_point{} + 100h;
  CHECK_FALSE(needs_peek(t0, t0));
  CHECK_FALSE(needs_peek(t0, t0 + peek_after - 1us));
  CHECK(needs_peek(t0, t0 + peek_after));
  CHECK(needs_peek(t0, t0 + 30s));
  // Well under the janitor's second and any check delay worth having.
  CHECK(peek_after <= 100ms);
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

namespace {

using pggat::pool::RecipeRank;
using Ranks = std::vector<std::optional<RecipeRank>>;

std::optional<std::size_t> dial_pick(const Ranks& ranks) {
  return pggat::pool::recipe_to_dial(ranks, [](const std::optional<RecipeRank>& r) { return r; });
}

std::optional<std::size_t> lend_pick(const Ranks& ranks) {
  return pggat::pool::idle_to_lend(ranks, [](const std::optional<RecipeRank>& r) { return r; });
}

RecipeRank rank(std::int64_t cost, std::uint64_t load) {
  return RecipeRank{.cost = cost, .load = load};
}

}  // namespace

TEST_CASE("recipe_to_dial: lowest priority+penalty, then least loaded, then first",
          "[pool][server_policy]") {
  CHECK_FALSE(dial_pick({}).has_value());
  CHECK_FALSE(dial_pick({std::nullopt, std::nullopt}).has_value());  // none may be dialed
  CHECK(dial_pick({rank(0, 5)}) == 0u);
  CHECK(dial_pick({rank(1, 0), rank(0, 9)}) == 1u);  // cost before load
  // Equal replicas share the load: the one with fewer open + dialing.
  CHECK(dial_pick({rank(0, 3), rank(0, 2), rank(0, 2)}) == 1u);
  CHECK(dial_pick({rank(2, 0), rank(2, 0)}) == 0u);
  // Out of rotation, full or backing off: skipped however cheap.
  CHECK(dial_pick({std::nullopt, rank(7, 100)}) == 1u);
  CHECK(dial_pick({rank(7, 100), std::nullopt}) == 0u);
  // A saturated penalty is the last choice, not an overflow.
  using pggat::pool::recipe_cost;
  CHECK(dial_pick({rank(recipe_cost(1, INT_MAX), 0), rank(recipe_cost(3, 2), 9)}) == 1u);
  CHECK(recipe_cost(INT_MAX, INT_MAX) == 2 * std::int64_t{INT_MAX});
  CHECK(recipe_cost(-5, 2) == -3);
}

TEST_CASE("idle_to_lend: the cheapest recipe in rotation, then its fewest lent, then the top-most",
          "[pool][server_policy]") {
  CHECK_FALSE(lend_pick({}).has_value());
  CHECK_FALSE(lend_pick({std::nullopt}).has_value());
  // All equal: the top of the stack (most recently used), as with one recipe.
  CHECK(lend_pick({rank(0, 0), rank(0, 0), rank(0, 0)}) == 2u);
  CHECK(lend_pick({rank(0, 0), rank(1, 0), rank(1, 0)}) == 0u);  // cheaper, though further down
  CHECK(lend_pick({rank(1, 0), rank(0, 0), rank(1, 0), rank(0, 0), rank(1, 0)}) == 3u);
  // Equal cost: the recipe with fewer servers lent now, though further down,
  // so equal replicas share concurrent transactions.
  CHECK(lend_pick({rank(0, 1), rank(0, 1), rank(0, 2), rank(0, 2)}) == 1u);
  CHECK(lend_pick({rank(0, 0), rank(1, 0), rank(0, 5)}) == 0u);
  CHECK(lend_pick({rank(0, 9), rank(1, 0)}) == 0u);  // cost before load
  // Out of rotation: never lent.
  CHECK(lend_pick({rank(0, 0), rank(5, 0), std::nullopt}) == 0u);
  CHECK(lend_pick({rank(5, 0), std::nullopt, std::nullopt}) == 0u);
}

TEST_CASE("no_rotation_message names the pool and each recipe's problem", "[pool][server_policy]") {
  using pggat::pool::no_rotation_message;
  CHECK(no_rotation_message("hybrid",
                            {{"replica1", "could not connect"},
                             {"replica2", "replication lag 3s is over max_replication_lag 1s"}}) ==
        "no server is in rotation in pool \"hybrid\": replica1: could not connect; replica2: "
        "replication lag 3s is over max_replication_lag 1s");
  CHECK(no_rotation_message("p", {{"r", ""}}) ==
        "no server is in rotation in pool \"p\": r: out of rotation");
}
