// Stream::receive: a read whose completion resumes the awaiting coroutine
// itself. The one place that leans on Asio's coroutine internals.
#include "net/stream.hpp"

#if PGGAT_RECEIVE_RESUMES_DIRECTLY

namespace pggat::net {
namespace {

using Frame = Stream::Receive::Frame;
using Thread = Stream::Receive::Thread;

// The completion handler: owns the suspended coroutine stack (as Asio's
// awaitable_handler does, by taking over the running thread), so its
// executor and cancellation slot are the caller's and, destroyed without
// being called (the io_context gone), it unwinds the stack through the
// executor. Called, it puts the outcome in the caller's frame and resumes it.
class Resume : public Thread {
 public:
  Resume(Frame* frame, Thread* thread, IoResult* result)
      : Thread(std::move(*thread)), frame_(frame), result_(result) {}
  Resume(Resume&&) noexcept = default;

  void operator()(const std::error_code& ec, std::size_t n) {
    *result_ = IoResult{ec, n};
    // What awaitable_handler does after popping the frame of Asio's own
    // coroutine; here the caller is the top of the stack already.
    frame_->attach_thread(this);
    frame_->clear_cancellation_slot();
    this->pump();
  }

 private:
  Frame* frame_;
  IoResult* result_;
};

}  // namespace

Thread* Stream::Receive::operator()(Frame* frame) const {
  Thread* thread = frame->detach_thread();
  if (thread->get_cancellation_state().cancelled() != asio::cancellation_type::none) {
    *result_ = IoResult{asio::error::operation_aborted, 0};
    // Still attached, the caller is resumed at once by the running pump.
    frame->attach_thread(thread);
    return nullptr;
  }
  if (stream_->tls_)
    stream_->tls_->stream.async_read_some(buffer_, Resume(frame, thread, result_));
  else
    stream_->socket_.async_read_some(buffer_, Resume(frame, thread, result_));
  return nullptr;
}

}  // namespace pggat::net

#endif
