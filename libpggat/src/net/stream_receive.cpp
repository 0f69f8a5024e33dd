// Stream::receive: a read whose completion resumes the awaiting coroutine
// itself. The one place that leans on Asio's coroutine internals.
#include "net/stream.hpp"

#if PGGAT_RECEIVE_RESUMES_DIRECTLY

namespace pggat::net {
namespace {

using Frame = Stream::Receive::Frame;
using Thread = Stream::Receive::Thread;

// The suspended coroutine stack, taken over from the running thread as
// Asio's awaitable_handler does. Destroyed without being resumed (the
// io_context gone), it unwinds the stack through the coroutine's executor.
class Stack : public Thread {
 public:
  explicit Stack(Thread&& running) noexcept : Thread(std::move(running)) {}
  using Thread::pump;
};

// The completion handler: puts the outcome in the caller's frame and resumes
// it. What awaitable_handler does after popping the frame of Asio's own
// coroutine; here the caller is the top of the stack already. The caller's
// cancellation slot is the operation's, so a cancel reaches the read.
class Resume {
 public:
  using cancellation_slot_type = asio::cancellation_slot;

  Resume(Frame* frame, Thread* running, IoResult* result)
      : stack_(std::move(*running)), frame_(frame), result_(result) {}

  cancellation_slot_type get_cancellation_slot() const noexcept { return stack_.get_cancellation_slot(); }

  void operator()(const std::error_code& ec, std::size_t n) {
    *result_ = IoResult{ec, n};
    frame_->attach_thread(&stack_);
    frame_->clear_cancellation_slot();
    stack_.pump();
  }

 protected:
  const Stack& stack() const { return stack_; }

 private:
  Stack stack_;
  Frame* frame_;
  IoResult* result_;
};

// For a stream whose io_context is not the caller's: the completion goes
// through the caller's executor, as with use_awaitable. Resume itself names
// no executor, so Asio calls it right in the socket's io_context, with no
// work counted and nothing dispatched: right when that is the caller's.
class ResumeThere : public Resume {
 public:
  using Resume::Resume;
  using executor_type = asio::any_io_executor;
  executor_type get_executor() const noexcept { return stack().get_executor(); }
};

}  // namespace

Thread* Stream::Receive::operator()(Frame* frame) const {
  Thread* running = frame->detach_thread();
  if (running->get_cancellation_state().cancelled() != asio::cancellation_type::none) {
    *result_ = IoResult{asio::error::operation_aborted, 0};
    // Still attached, the caller is resumed at once by the running pump.
    frame->attach_thread(running);
    return nullptr;
  }
  const asio::any_io_executor caller = running->get_executor();
  const IoExecutor* caller_context = caller.target<IoExecutor>();
  const auto start = [this](auto handler) {
    if (stream_->tls_)
      stream_->tls_->stream.async_read_some(buffer_, std::move(handler));
    else
      stream_->socket_.async_read_some(buffer_, std::move(handler));
  };
  if (caller_context != nullptr && *caller_context == stream_->socket_.get_executor())
    start(Resume(frame, running, result_));
  else
    start(ResumeThere(frame, running, result_));
  return nullptr;
}

}  // namespace pggat::net

#endif
