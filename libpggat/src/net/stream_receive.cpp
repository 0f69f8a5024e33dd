// Stream::receive: a read whose completion resumes the awaiting coroutine itself.
#include "net/stream.hpp"

#include <type_traits>

#include <asio/associated_executor.hpp>
#include <asio/post.hpp>

#if PGGAT_AWAIT_DIRECTLY
#include "net/direct_await_impl.hpp"
#include "net/drained_read.hpp"

namespace pggat::net {

AwaitingThread* Stream::Receive::operator()(AwaitingFrame* frame) const {
  Stream& stream = *stream_;
  const bool drained = stream.drained_reactor_ != nullptr && !stream.tls_ && buffer_.size() > 0;
  // A client's wait that something else looks after skips the look: parking
  // ends a wait between units and finds a hidden end of file then; the
  // App's sweep looks at a watched read while it waits blind.
  const bool looked_after = (until_parked_ || stream.watched_) && !stream.writes_reveal_eof_;
  const bool look_first = stream.maybe_unseen_eof_ && !looked_after;
  const bool waits_blind = stream.maybe_unseen_eof_ && looked_after && !until_parked_;
  if (drained && look_first && !detail_direct::cancellation_fired(frame)) {
    // Whatever it finds (bytes, end of file, an error) is the read's
    // outcome, completed through the io_context as Asio completes a read
    // that finds bytes at once: a peer that keeps the socket full (a COPY)
    // does not keep the thread from its other clients.
    const IoResult now = stream.read_now(buffer_);
    if (std::get<0>(now) != asio::error::would_block) {
      return detail_direct::await_directly(frame, stream.socket_.get_executor(), result_, [&](auto handler) {
        const auto executor = asio::get_associated_executor(handler, stream.socket_.get_executor());
        asio::post(executor, [handler = std::move(handler), now]() mutable {
          handler(std::get<0>(now), std::get<1>(now));
        });
      });
    }
    ++stream.empty_reads_;
  }
  return detail_direct::await_directly(frame, stream.socket_.get_executor(), result_, [&](auto handler) {
    if (stream.tls_) {
      stream.tls_->stream.async_read_some(buffer_, std::move(handler));
    } else if constexpr (std::is_same_v<decltype(handler), detail_direct::Resume<IoResult>>) {
      if (drained) {
        std::atomic<bool>* blind = nullptr;
        if (waits_blind) {
          blind = &stream.blind_;
          blind->store(true, std::memory_order_relaxed);
        }
        detail_drained::start(*stream.drained_reactor_, stream.socket_, buffer_, &stream.maybe_unseen_eof_,
                              &stream.empty_reads_, blind, std::move(handler));
      }
      else
        stream.socket_.async_read_some(buffer_, std::move(handler));
    } else {
      stream.socket_.async_read_some(buffer_, std::move(handler));
    }
  });
}

}  // namespace pggat::net

#endif
