// Thread policy: which thread a new client goes to, and when a client between units moves, from the threads' loads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace pggat::net {

// Loads are in permille of one thread's time spent running (its CPU time
// over the last sampling period), thread 0 (the host's) first.
//
// Threads are filled in order: a thread takes new clients while its load is
// under `fill`, and the next one only once it is past it. A thread asleep
// costs nothing, but each one awake pays its own sleeps and wake-ups: on a
// small machine shared with PostgreSQL, a second thread that shares the work
// of a first with time to spare costs more than it brings (a connection per
// transaction, two threads against one: a quarter more CPU per connection,
// most of it context switches). With fill 0 the caller goes round robin.

// `Loads`: size() and operator[] giving a thread's load (a vector, or a view
// of the threads' atomics).

// The thread for a new client: the first whose load is under `fill`, else
// the least loaded (the first of equals).
template <class Loads>
[[nodiscard]] std::size_t place_client(const Loads& loads, std::uint32_t fill) {
  std::size_t least = 0;
  for (std::size_t i = 0; i < loads.size(); ++i) {
    if (loads[i] < fill) return i;
    if (loads[i] < loads[least]) least = i;
  }
  return least;
}

// Where a client between units on thread `current` moves: from a thread at
// or past `fill`, to the least loaded thread if that one is under half of it
// (so that a move does not just push the next one past the line). nullopt:
// it stays.
template <class Loads>
[[nodiscard]] std::optional<std::size_t> move_target(const Loads& loads, std::size_t current,
                                                    std::uint32_t fill) {
  if (fill == 0 || current >= loads.size() || loads[current] < fill) return std::nullopt;
  std::optional<std::size_t> least;
  for (std::size_t i = 0; i < loads.size(); ++i)
    if (i != current && (!least || loads[i] < loads[*least])) least = i;
  if (!least || loads[*least] >= fill / 2) return std::nullopt;
  return least;
}

}  // namespace pggat::net
