// Detached coroutines that log an escaped exception instead of losing it.
#pragma once

#include <exception>
#include <memory>
#include <string_view>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <spdlog/logger.h>

namespace pggat::net {

// The task never starts inside the caller: co_spawn alone would dispatch, and
// run it inline when the caller is on the executor already, while the caller
// may hold a lock the task takes.
//
// The data path reports errors as values; an exception reaching here is a bug,
// and it is logged with `what` so it can be found, never silently dropped and
// never allowed to take the process down.
// Logs an exception that escaped `what` (a bug); nothing when `e` is null.
inline void log_escaped(spdlog::logger& log, const std::exception_ptr& e, std::string_view what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log.error("internal error in {}: {}", what, ex.what());
  } catch (...) {
    log.error("internal error in {}: unknown exception", what);
  }
}

template <class Executor, class Awaitable>
void spawn(const Executor& executor, Awaitable&& task, std::shared_ptr<spdlog::logger> log,
           std::string_view what) {
  asio::post(executor, [executor, task = std::forward<Awaitable>(task), log = std::move(log),
                        what]() mutable {
    asio::co_spawn(executor, std::move(task), [log, what](std::exception_ptr e) {
      if (log) log_escaped(*log, e, what);
    });
  });
}

// The same for a task that catches and logs what it throws itself. Its
// completion handler is then empty, where spawn's holds the logger: the
// frame under the task, there as long as the task is (a client connection's),
// is 32 bytes smaller.
template <class Executor, class Awaitable>
void spawn_detached(const Executor& executor, Awaitable&& task) {
  asio::post(executor, [executor, task = std::forward<Awaitable>(task)]() mutable {
    asio::co_spawn(executor, std::move(task), asio::detached);
  });
}

}  // namespace pggat::net
