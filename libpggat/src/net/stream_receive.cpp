// Stream::receive: a read whose completion resumes the awaiting coroutine itself.
#include "net/stream.hpp"

#include <type_traits>

#if PGGAT_AWAIT_DIRECTLY
#include "net/direct_await_impl.hpp"
#include "net/drained_read.hpp"

namespace pggat::net {
namespace {

bool cancelled(AwaitingFrame* frame) {
  AwaitingThread* running = frame->detach_thread();
  const bool cancelled = running->get_cancellation_state().cancelled() != asio::cancellation_type::none;
  frame->attach_thread(running);
  return cancelled;
}

}  // namespace

AwaitingThread* Stream::Receive::operator()(AwaitingFrame* frame) const {
  Stream& stream = *stream_;
  const bool drained = stream.drained_reactor_ != nullptr && !stream.tls_ && buffer_.size() > 0;
  // A client's wait that parking ends finds a hidden end of file then.
  const bool look_first = stream.maybe_unseen_eof_ && !(until_parked_ && !stream.writes_reveal_eof_);
  if (drained && look_first && !cancelled(frame)) {
    // Whatever it finds (bytes, end of file, an error) is the read's outcome,
    // and the caller, still attached, goes on at once.
    const IoResult now = stream.read_now(buffer_);
    if (std::get<0>(now) != asio::error::would_block) {
      *result_ = now;
      return nullptr;
    }
    ++stream.empty_reads_;
  }
  return detail_direct::await_directly(frame, stream.socket_.get_executor(), result_, [&](auto handler) {
    if (stream.tls_) {
      stream.tls_->stream.async_read_some(buffer_, std::move(handler));
    } else if constexpr (std::is_same_v<decltype(handler), detail_direct::Resume<IoResult>>) {
      if (drained)
        detail_drained::start(*stream.drained_reactor_, stream.socket_, buffer_, &stream.maybe_unseen_eof_,
                              &stream.empty_reads_, std::move(handler));
      else
        stream.socket_.async_read_some(buffer_, std::move(handler));
    } else {
      stream.socket_.async_read_some(buffer_, std::move(handler));
    }
  });
}

}  // namespace pggat::net

#endif
