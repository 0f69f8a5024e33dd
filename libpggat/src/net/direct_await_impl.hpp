// Direct awaits: the completion handler that resumes its awaiting coroutine, and the start of an operation with it.
// For the .cpp files that define a direct await's operator(): each instantiates it once.
#pragma once

#include <system_error>
#include <tuple>
#include <utility>

#include <asio/cancellation_signal.hpp>
#include <asio/error.hpp>

#include "net/direct_await.hpp"
#include "net/io_executor.hpp"

#if PGGAT_AWAIT_DIRECTLY
namespace pggat::net::detail_direct {

// The suspended coroutine stack, taken over from the running thread as
// Asio's awaitable_handler does. Destroyed without being resumed (the
// io_context gone), it unwinds the stack through the coroutine's executor.
class Stack : public AwaitingThread {
 public:
  explicit Stack(AwaitingThread&& running) noexcept : AwaitingThread(std::move(running)) {}
  using AwaitingThread::pump;
};

// The completion handler: puts the outcome (the handler's arguments, as a
// Result) in the caller's frame and resumes it. What awaitable_handler does
// after popping the frame of Asio's own coroutine; here the caller is the top
// of the stack already. The caller's cancellation slot is the operation's,
// so a cancel reaches it. It names no executor, so Asio calls it right where
// the operation completes, with no work counted and nothing dispatched:
// right when the I/O object is on the caller's io_context.
template <class Result>
class Resume {
 public:
  using cancellation_slot_type = asio::cancellation_slot;

  Resume(AwaitingFrame* frame, AwaitingThread* running, Result* result)
      : stack_(std::move(*running)), frame_(frame), result_(result) {}

  cancellation_slot_type get_cancellation_slot() const noexcept { return stack_.get_cancellation_slot(); }

  template <class... Args>
  void operator()(Args&&... args) {
    *result_ = Result{std::forward<Args>(args)...};
    frame_->attach_thread(&stack_);
    frame_->clear_cancellation_slot();
    stack_.pump();
  }

 protected:
  const Stack& stack() const { return stack_; }

 private:
  Stack stack_;
  AwaitingFrame* frame_;
  Result* result_;
};

// For an I/O object on another io_context than the caller's: the completion
// goes through the caller's executor, as with use_awaitable.
template <class Result>
class ResumeThere : public Resume<Result> {
 public:
  using Resume<Result>::Resume;
  using executor_type = asio::any_io_executor;
  executor_type get_executor() const noexcept { return this->stack().get_executor(); }
};

inline void set_aborted(std::error_code& result) { result = asio::error::operation_aborted; }
inline void set_aborted(std::tuple<std::error_code, std::size_t>& result) {
  result = {asio::error::operation_aborted, 0};
}

inline bool same_context(const asio::any_io_executor& caller, const IoExecutor& object) {
  const IoExecutor* mine = caller.target<IoExecutor>();
  return mine != nullptr && *mine == object;
}
inline bool same_context(const asio::any_io_executor& caller, const asio::any_io_executor& object) {
  return caller == object;
}

inline bool cancellation_fired(const AwaitingThread* running) {
  return running->get_cancellation_state().cancelled() != asio::cancellation_type::none;
}

// The same asked through a frame whose caller is attached (it stays attached).
inline bool cancellation_fired(AwaitingFrame* frame) {
  AwaitingThread* running = frame->detach_thread();
  const bool fired = cancellation_fired(running);
  frame->attach_thread(running);
  return fired;
}

// The body of a direct await's operator(): `start(handler)` starts the
// operation of an I/O object on `object_executor`. An operation that would
// start after the caller's cancellation fired yields operation_aborted at
// once instead: it would never see the signal.
template <class Result, class ObjectExecutor, class Start>
AwaitingThread* await_directly(AwaitingFrame* frame, const ObjectExecutor& object_executor, Result* result,
                               Start&& start) {
  AwaitingThread* running = frame->detach_thread();
  if (cancellation_fired(running)) {
    set_aborted(*result);
    // Still attached, the caller is resumed at once by the running pump.
    frame->attach_thread(running);
    return nullptr;
  }
  if (same_context(running->get_executor(), object_executor))
    start(Resume<Result>(frame, running, result));
  else
    start(ResumeThere<Result>(frame, running, result));
  return nullptr;
}

}  // namespace pggat::net::detail_direct
#endif
