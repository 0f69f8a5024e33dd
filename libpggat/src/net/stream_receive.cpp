// Stream::receive: a read whose completion resumes the awaiting coroutine itself.
#include "net/stream.hpp"

#if PGGAT_AWAIT_DIRECTLY
#include "net/direct_await_impl.hpp"

namespace pggat::net {

AwaitingThread* Stream::Receive::operator()(AwaitingFrame* frame) const {
  return detail_direct::await_directly(frame, stream_->socket_.get_executor(), result_, [this](auto handler) {
    if (stream_->tls_)
      stream_->tls_->stream.async_read_some(buffer_, std::move(handler));
    else
      stream_->socket_.async_read_some(buffer_, std::move(handler));
  });
}

}  // namespace pggat::net

#endif
