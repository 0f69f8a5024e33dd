// net::wait: a timer's wait, awaited without a coroutine frame of Asio's (the completion resumes the waiter itself).
#pragma once

#include <chrono>
#include <system_error>

#include <asio/basic_waitable_timer.hpp>
#include <asio/this_coro.hpp>

#include "net/direct_await.hpp"
#include "net/io_executor.hpp"
#if !PGGAT_AWAIT_DIRECTLY
#include "net/stream.hpp"  // use_nothrow
#endif

namespace pggat::net {

// A steady-clock timer bound to an io_context itself (no type-erased executor).
using SteadyTimer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                               asio::wait_traits<std::chrono::steady_clock>, IoExecutor>;

#if PGGAT_AWAIT_DIRECTLY
class TimerWait {
 public:
  TimerWait(SteadyTimer& timer, std::error_code& result) : timer_(&timer), result_(&result) {}
  // Starts the wait; always nullptr (see direct_await.hpp).
  AwaitingThread* operator()(AwaitingFrame* frame) const;

 private:
  SteadyTimer* timer_;
  std::error_code* result_;
};

// `co_await net::wait(timer, ec)`: ec is what the wait completed with (none
// when the timer expired, operation_aborted when it was cancelled, or when
// the caller's cancellation fired before the wait began).
[[nodiscard]] inline TimerWait wait(SteadyTimer& timer, std::error_code& result) { return {timer, result}; }
#else
inline asio::awaitable<void> wait(SteadyTimer& timer, std::error_code& result) {
  if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
    result = asio::error::operation_aborted;
    co_return;
  }
  std::tie(result) = co_await timer.async_wait(use_nothrow);
}
#endif

}  // namespace pggat::net
