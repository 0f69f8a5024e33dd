// A socket read that tells Asio's reactor the socket is empty when it comes back short.
// For stream_receive.cpp only: it takes Asio 1.22's reactor internals, as direct awaits do.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/detail/fenced_block.hpp>
#include <asio/detail/handler_alloc_helpers.hpp>
#include <asio/detail/handler_cont_helpers.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/detail/socket_ops.hpp>

#include "net/direct_await.hpp"
#include "net/raw_syscalls.hpp"
#include "net/stream.hpp"

#if PGGAT_AWAIT_DIRECTLY
namespace pggat::net::detail_drained {

// Asio's own read tries recv() at once unless the socket last read as empty,
// and it counts a socket as empty only at end of file: on a connection where
// each read waits for an answer to what we just wrote, that first recv()
// fails nearly every time (a system call per read for nothing). Tokio
// counts a short read (fewer bytes than asked for) as empty, as this op
// does: the reactor then waits for epoll's next edge before the next read.
template <class Handler>
class RecvOp : public asio::detail::reactor_op {
 public:
  ASIO_DEFINE_HANDLER_PTR(RecvOp);

  RecvOp(asio::detail::socket_type fd, asio::mutable_buffer buffer, bool* short_read,
         std::uint64_t* empty_reads, std::atomic<bool>* blind, Handler& handler)
      : reactor_op(std::error_code(), &RecvOp::do_perform, &RecvOp::do_complete),
        fd_(fd),
        buffer_(buffer),
        short_read_(short_read),
        empty_reads_(empty_reads),
        blind_(blind),
        handler_(std::move(handler)) {}

  // Runs while the descriptor is in the reactor, so while its Stream lives.
  static status do_perform(reactor_op* base) {
    auto* o = static_cast<RecvOp*>(base);
    // Asio's non_blocking_recv1, on the bare system call.
    ssize_t n;
    do {
      n = raw::recv(o->fd_, o->buffer_.data(), o->buffer_.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      o->bytes_transferred_ = static_cast<std::size_t>(n);
    } else if (n == 0) {
      o->ec_ = asio::error::eof;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ++*o->empty_reads_;
      return not_done;
    } else {
      o->ec_ = std::error_code(errno, asio::error::get_system_category());
    }
    const bool short_read = !o->ec_ && o->bytes_transferred_ < o->buffer_.size();
    *o->short_read_ = short_read;
    // Here, not at completion: a cancelled op completes after its socket
    // closed, perhaps with its Stream. A cancelled one leaves it to
    // Stream::set_watched_reads(false).
    if (o->blind_ != nullptr) o->blind_->store(false, std::memory_order_relaxed);
    return short_read || o->ec_ == asio::error::eof ? done_and_exhausted : done;
  }

  static void do_complete(void* owner, asio::detail::operation* base, const std::error_code&, std::size_t) {
    auto* o = static_cast<RecvOp*>(base);
    ptr p = {std::addressof(o->handler_), o, o};
    Handler handler(std::move(o->handler_));
    const std::error_code ec = o->ec_;
    const std::size_t n = o->bytes_transferred_;
    p.h = std::addressof(handler);
    p.reset();  // the op's memory goes back before the handler runs, as Asio's ops do
    if (owner) {
      asio::detail::fenced_block b(asio::detail::fenced_block::half);
      handler(ec, n);
    }
  }

 private:
  asio::detail::socket_type fd_;
  asio::mutable_buffer buffer_;
  bool* short_read_;
  std::uint64_t* empty_reads_;
  std::atomic<bool>* blind_;  // the stream's, set while a watched read waits blind; may be null
  Handler handler_;
};

// Per-operation cancellation, as Asio's socket service registers it.
class Cancel {
 public:
  Cancel(asio::detail::reactor* reactor, asio::detail::reactor::per_descriptor_data* data,
         asio::detail::socket_type fd)
      : reactor_(reactor), data_(data), fd_(fd) {}
  void operator()(asio::cancellation_type_t type) {
    if (!!(type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                   asio::cancellation_type::total)))
      reactor_->cancel_ops_by_key(fd_, *data_, asio::detail::reactor::read_op, this);
  }

 private:
  asio::detail::reactor* reactor_;
  asio::detail::reactor::per_descriptor_data* data_;
  asio::detail::socket_type fd_;
};

// basic_socket keeps its implementation protected; a pointer to the member
// formed in a derived class reads it from any socket.
struct SocketAccess : Socket {
  static auto& implementation(Socket& socket) {
    return (socket.*(&SocketAccess::impl_)).get_implementation();
  }
};

// Starts the read of `socket` (on `reactor`'s io_context, its buffer not
// empty); `handler(error_code, size_t)` gets the outcome. `short_read` is set
// when the read completes, `empty_reads` counted up each time recv() finds
// nothing, and `blind` (if not null) cleared when it reads something or fails.
template <class Handler>
void start(asio::detail::reactor& reactor, Socket& socket, asio::mutable_buffer buffer, bool* short_read,
           std::uint64_t* empty_reads, std::atomic<bool>* blind, Handler handler) {
  auto& impl = SocketAccess::implementation(socket);
  const bool is_continuation = asio_handler_cont_helpers::is_continuation(handler);
  auto slot = asio::get_associated_cancellation_slot(handler);
  typename RecvOp<Handler>::ptr p = {std::addressof(handler), RecvOp<Handler>::ptr::allocate(handler), nullptr};
  p.p = new (p.v) RecvOp<Handler>(impl.socket_, buffer, short_read, empty_reads, blind, handler);
  if (slot.is_connected())
    p.p->cancellation_key_ = &slot.template emplace<Cancel>(&reactor, &impl.reactor_data_, impl.socket_);
  if ((impl.state_ & asio::detail::socket_ops::non_blocking) ||
      asio::detail::socket_ops::set_internal_non_blocking(impl.socket_, impl.state_, true, p.p->ec_))
    reactor.start_op(asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, is_continuation,
                     true);
  else
    reactor.post_immediate_completion(p.p, is_continuation);
  p.v = p.p = nullptr;
}

}  // namespace pggat::net::detail_drained
#endif
