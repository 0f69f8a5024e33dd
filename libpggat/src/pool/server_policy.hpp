// The server pool's decisions as pure functions: who gets a freed server, what a timeout says.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "pggat/basic_pool.hpp"

namespace pggat::pool {

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

// The FATAL message of client_acquire_timeout. `waiting` counts the client
// that timed out.
[[nodiscard]] std::string acquire_timeout_message(std::chrono::nanoseconds timeout,
                                                  const std::string& pool, std::uint64_t busy,
                                                  std::uint64_t waiting);

}  // namespace pggat::pool
