// The server pool's decisions as pure functions: who gets a server, which recipe, which servers retire or need a check.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pggat/basic_pool.hpp"

namespace pggat::pool {

// What the last check of a recipe found (see HealthMonitor and judge in
// critics.hpp). A recipe never checked is in rotation with no penalty.
struct RecipeHealth {
  bool in_rotation = true;
  int penalty = 0;
  std::chrono::nanoseconds lag{0};
  std::uint64_t replay_lsn = 0;  // 0: unknown (not a replica)
  std::string problem{};         // why it is out of rotation
};

// One per client: how long it has held servers, for the rob pooler. The pool
// reads and writes `held` under its lock, when a server is lent and returned.
struct ClientShare {
  std::uint64_t client_id = 0;
  std::chrono::nanoseconds held{0};
};

// Which of the waiters (in arrival order) a freed server goes to. lifo serves
// them first come, first served; rob picks the one with the least `held(w)`,
// the earliest of equals, so clients with no history stay FIFO. A template
// over the waiters' container so a release allocates nothing.
template <class Waiters, class Held>
[[nodiscard]] std::size_t next_waiter(PoolerKind pooler, const Waiters& waiters, Held held) {
  std::size_t best = 0;
  if (pooler != PoolerKind::rob) return best;
  std::chrono::nanoseconds least = std::chrono::nanoseconds::max();
  std::size_t i = 0;
  for (const auto& w : waiters) {
    const std::chrono::nanoseconds h = held(w);
    if (h < least) {
      least = h;
      best = i;
    }
    ++i;
  }
  return best;
}

// With several threads: the waiter `due` (next_waiter's choice) unless it is
// on another thread than the server (`local(w)` false) and a waiter among the
// first `window` (in arrival order) is on the server's: that one, so the
// server is lent without moving. `due` is passed over at most `max_passes`
// times (`passes(w)`; the caller counts), so no one waits for long behind
// clients of another thread.
template <class Waiters, class Local, class Passes>
[[nodiscard]] std::size_t nearby_waiter(const Waiters& waiters, std::size_t due, Local local,
                                        Passes passes, std::size_t window, std::uint32_t max_passes) {
  if (local(waiters[due]) || passes(waiters[due]) >= max_passes) return due;
  std::size_t i = 0;
  for (const auto& w : waiters) {
    if (i == window) break;
    if (local(w)) return i;
    ++i;
  }
  return due;
}

// What choosing between recipes weighs: cost is priority plus the critics'
// penalty (lower is better), then load (lower is better): the recipe's open
// plus dialing servers when dialing, its lent servers when lending.
struct RecipeRank {
  std::int64_t cost = 0;
  std::uint64_t load = 0;
};

[[nodiscard]] inline bool ranks_before(const RecipeRank& a, const RecipeRank& b) {
  return a.cost < b.cost || (a.cost == b.cost && a.load < b.load);
}

// In 64 bits: a saturated penalty plus any priority cannot overflow.
[[nodiscard]] inline std::int64_t recipe_cost(int priority, int penalty) {
  return std::int64_t{priority} + penalty;
}

// Which recipe a new server is dialed for: the lowest cost, then the least
// load (so equal replicas share the servers), then the first. rank(r) gives a
// recipe's std::optional<RecipeRank>, nullopt for one that cannot take a new
// server (out of rotation, at capacity, backing off). nullopt when none can.
template <class Recipes, class Rank>
[[nodiscard]] std::optional<std::size_t> recipe_to_dial(const Recipes& recipes, Rank rank) {
  std::optional<std::size_t> best;
  RecipeRank best_rank;
  std::size_t i = 0;
  for (const auto& r : recipes) {
    const std::optional<RecipeRank> k = rank(r);
    if (k && (!best || ranks_before(*k, best_rank))) {
      best = i;
      best_rank = *k;
    }
    ++i;
  }
  return best;
}

// Which idle server is lent, from a stack whose top (back) was used last:
// the lowest cost, then the fewest servers of its recipe at work (load), so
// replicas of equal cost share concurrent transactions, then the top-most.
// rank(s) is a std::optional<RecipeRank>, nullopt for a server that must not
// be lent (its recipe is out of rotation). nullopt when none may be.
template <class Stack, class Rank>
[[nodiscard]] std::optional<std::size_t> idle_to_lend(const Stack& idle, Rank rank) {
  std::optional<std::size_t> best;
  RecipeRank best_rank;
  for (std::size_t i = idle.size(); i-- > 0;) {
    const std::optional<RecipeRank> k = rank(idle[i]);
    if (k && (!best || ranks_before(*k, best_rank))) {
      best = i;
      best_rank = *k;
    }
  }
  return best;
}

// Past server_lifetime (0: unlimited).
[[nodiscard]] inline bool past_lifetime(std::chrono::steady_clock::time_point created,
                                        std::chrono::steady_clock::time_point now,
                                        std::chrono::nanoseconds lifetime) {
  return lifetime.count() > 0 && now - created >= lifetime;
}

// An idle server unused for longer than server_check_delay (0: always) is
// checked before it is lent.
[[nodiscard]] inline bool needs_check(std::chrono::steady_clock::time_point idle_since,
                                      std::chrono::steady_clock::time_point now,
                                      std::chrono::nanoseconds check_delay) {
  return check_delay.count() <= 0 || now - idle_since > check_delay;
}

// An idle server released less than this long ago answered its last query
// (its ReadyForQuery) a moment ago: it is lent without a look at its socket
// (closed_while_idle's recv(MSG_PEEK)). On a busy pool servers idle for
// microseconds and that system call was a sixth of taking one; one idle
// longer is looked at, and the janitor looks at every idle one each second.
inline constexpr std::chrono::milliseconds peek_after{10};

[[nodiscard]] inline bool needs_peek(std::chrono::steady_clock::time_point idle_since,
                                     std::chrono::steady_clock::time_point now) {
  return now - idle_since >= peek_after;
}

// How long a check may take: short, since a client is waiting behind it.
[[nodiscard]] inline std::chrono::nanoseconds check_timeout(std::chrono::nanoseconds connect_timeout) {
  constexpr std::chrono::nanoseconds cap = std::chrono::seconds(5);
  return connect_timeout.count() > 0 ? std::min(connect_timeout, cap) : cap;
}

// The FATAL message of acquire when no recipe is in rotation: each recipe
// (name, problem) says why it is out.
[[nodiscard]] std::string no_rotation_message(
    const std::string& pool, const std::vector<std::pair<std::string, std::string>>& problems);

// The FATAL message of client_acquire_timeout. `waiting` counts the client
// that timed out.
[[nodiscard]] std::string acquire_timeout_message(std::chrono::nanoseconds timeout,
                                                  const std::string& pool, std::uint64_t busy,
                                                  std::uint64_t waiting);

}  // namespace pggat::pool
