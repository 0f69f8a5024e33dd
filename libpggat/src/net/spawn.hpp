// Starting coroutines: launch (on the caller's thread, no machinery beyond the
// coroutine's own) and spawn (posted, an escaped exception logged).
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <spdlog/logger.h>

#include "net/direct_await.hpp"

namespace pggat::net {

#if PGGAT_AWAIT_DIRECTLY
namespace detail_launch {

using EntryPoint = asio::awaitable<asio::detail::awaitable_thread_entry_point, asio::any_io_executor>;

// The bottom of the new coroutine stack: runs the task, then hands its
// outcome to `done` right there.
template <class T, class Done>
EntryPoint run_then(asio::awaitable<T> task, Done done) {
  std::exception_ptr e;
  std::optional<T> result;
  try {
    result.emplace(co_await std::move(task));
  } catch (...) {
    e = std::current_exception();
  }
  if (e)
    done(e, T{});
  else
    done(std::exception_ptr(), std::move(*result));
}

template <class Done>
EntryPoint run_then(asio::awaitable<void> task, Done done) {
  std::exception_ptr e;
  try {
    co_await std::move(task);
  } catch (...) {
    e = std::current_exception();
  }
  done(e);
}

}  // namespace detail_launch
#endif

// Runs `task` on the caller's thread, which must be `executor`'s, until it
// first waits; `done` gets (exception_ptr[, T]) when it ends, called where it
// ends and so must not throw. What co_spawn does, less what a client's
// coroutine paid it per connection (twice, with a parked client): a
// use_awaitable coroutine to dispatch onto `executor` (it is there already),
// two work guards through any_io_executor (a waiting operation counts as the
// io_context's work anyway), and `done` posted through the scheduler. No
// cancellation reaches the task from outside: cancel its I/O objects.
// (With an Asio other than 1.22 this is co_spawn, `done` posted.)
template <class T, class Done>
void launch(const asio::any_io_executor& executor, asio::awaitable<T> task, Done done) {
#if PGGAT_AWAIT_DIRECTLY
  AwaitingThread thread(detail_launch::run_then(std::move(task), std::move(done)), executor,
                        asio::cancellation_slot(), asio::cancellation_state());
  thread.launch();
#else
  asio::co_spawn(executor, std::move(task), std::move(done));
#endif
}

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

// The task never starts inside the caller: launching at once would run it
// inline, while the caller may hold a lock the task takes.
//
// The data path reports errors as values; an exception reaching here is a bug,
// and it is logged with `what` so it can be found, never silently dropped and
// never allowed to take the process down.
template <class Executor, class Awaitable>
void spawn(const Executor& executor, Awaitable&& task, std::shared_ptr<spdlog::logger> log,
           std::string_view what) {
  asio::post(executor, [executor, task = std::forward<Awaitable>(task), log = std::move(log),
                        what]() mutable {
    launch(executor, std::move(task), [log = std::move(log), what](std::exception_ptr e) {
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
    launch(executor, std::move(task), [](const std::exception_ptr& /*escaped*/) {});
  });
}

}  // namespace pggat::net
