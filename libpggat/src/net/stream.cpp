// Stream: TLS start on either side, readiness, and the closing handshake that keeps a final error from being lost.
#include "net/stream.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <unistd.h>

#include <array>
#include <cerrno>

#include <openssl/ssl.h>

#include "net/deadline.hpp"
#include "net/raw_syscalls.hpp"
#include "net/tls.hpp"

namespace pggat::net {

std::span<asio::const_buffer> drop_front(std::span<asio::const_buffer> buffers, std::size_t n) {
  while (!buffers.empty() && n >= buffers.front().size()) {
    n -= buffers.front().size();
    buffers = buffers.subspan(1);
  }
  if (n > 0) buffers.front() += n;
  return buffers;
}

IoResult Stream::send_now(std::span<const asio::const_buffer> buffers) {
  if (tls_ || !socket_.is_open()) return {std::error_code{}, 0};
  // The relay gathers at most a few dozen buffers; more go in later calls.
  constexpr std::size_t max_iov = 64;
  std::array<iovec, max_iov> iov;
  std::size_t count = 0;
  for (const auto& b : buffers) {
    if (count == max_iov) break;
    if (b.size() == 0) continue;
    iov[count++] = iovec{const_cast<void*>(b.data()), b.size()};
  }
  if (count == 0) return {std::error_code{}, 0};
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = count;
  for (;;) {
    const ssize_t n = raw::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      bytes_written_ += static_cast<std::size_t>(n);
      if (n > 0 && writes_reveal_eof_) maybe_unseen_eof_ = false;
      return {std::error_code{}, static_cast<std::size_t>(n)};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {std::error_code{}, 0};
    return {std::error_code(errno, asio::error::get_system_category()), 0};
  }
}

std::span<asio::const_buffer> Stream::send_at_once(std::span<asio::const_buffer> all,
                                                   std::error_code& ec) {
  std::size_t sent = 0;
  std::tie(ec, sent) = send_now(all);
  if (ec) return {};
  return drop_front(all, sent);
}

IoResult Stream::read_now(asio::mutable_buffer buffer) {
  if (!socket_.is_open()) return {asio::error::bad_descriptor, 0};
  if (tls_) return {asio::error::would_block, 0};
  if (buffer.size() == 0) return {std::error_code{}, 0};
  for (;;) {
    const ssize_t n = raw::recv(socket_.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) {
      maybe_unseen_eof_ = static_cast<std::size_t>(n) < buffer.size();
      return {std::error_code{}, static_cast<std::size_t>(n)};
    }
    if (n == 0) return {asio::error::eof, 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      maybe_unseen_eof_ = false;
      return {asio::error::would_block, 0};
    }
    return {std::error_code(errno, asio::error::get_system_category()), 0};
  }
}

Stream::Peeked Stream::peek() const {
  std::byte b;
  for (;;) {
    const ssize_t n = ::recv(const_cast<Socket&>(socket_).native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return Peeked::bytes;
    if (n == 0) return Peeked::ended;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Peeked::nothing : Peeked::ended;
  }
}

bool Stream::input_pending() const {
  if (tls_ && SSL_pending(tls_->stream.native_handle()) > 0) return true;
  if (!socket_.is_open()) return true;
  return peek() != Peeked::nothing;
}

bool Stream::end_blind_read_at_eof() {
  if (!blind() || peek() != Peeked::ended) return false;
  cancel();
  blind_.store(false, std::memory_order_relaxed);
  return true;
}

bool Stream::learn_family() {
  if (family_ >= 0) return true;
  std::error_code ec;
  const int family = socket_.local_endpoint(ec).protocol().family();
  if (ec) return false;
  family_ = static_cast<std::int16_t>(family);
  return true;
}

void Stream::move_to(const IoExecutor& executor) {
  if (!socket_.is_open() || socket_.get_executor() == executor) return;
  // Not connected any more without a family: the next read or write says so.
  if (!learn_family()) return;
  std::error_code ec;
  const auto fd = socket_.release(ec);
  if (ec) return;
  Socket moved(executor);
  moved.assign(asio::generic::stream_protocol(family_, 0), fd, ec);
  if (ec) {
    ::close(fd);  // socket_ is closed (released): its next read or write fails
    return;
  }
  // Move assignment takes the other io_context's service along: the TLS
  // engine's reference to socket_ stays valid.
  socket_ = std::move(moved);
  if (drained_reactor_ != nullptr) drained_reactor_ = &asio::use_service<asio::detail::reactor>(executor.context());
}

void Stream::set_drained_reads(DrainedReads mode) {
  drained_reactor_ = mode != DrainedReads::off && PGGAT_AWAIT_DIRECTLY
                         ? &asio::use_service<asio::detail::reactor>(socket_.get_executor().context())
                         : nullptr;
  writes_reveal_eof_ = mode == DrainedReads::server;
}

int Stream::leave_reactor(std::error_code& ec) {
  if (tls_) {
    ec = make_error_code(asio::error::operation_not_supported);
    return -1;
  }
  if (!socket_.is_open()) {
    ec = make_error_code(asio::error::bad_descriptor);
    return -1;
  }
  if (!learn_family()) {
    ec = make_error_code(asio::error::not_connected);
    return -1;
  }
  parked_fd_ = socket_.release(ec);
  if (ec) parked_fd_ = -1;
  return parked_fd_;
}

std::error_code Stream::rejoin_reactor() {
  if (parked_fd_ < 0) return make_error_code(asio::error::bad_descriptor);
  std::error_code ec;
  socket_.assign(asio::generic::stream_protocol(family_, 0), parked_fd_, ec);
  if (ec) {
    ::close(parked_fd_);
    in_parking_set_ = false;
  }
  parked_fd_ = -1;
  return ec;
}

void Stream::close_parked() noexcept {
  ::close(parked_fd_);  // takes it out of the parking set too
  parked_fd_ = -1;
  in_parking_set_ = false;
}

asio::awaitable<std::error_code> Stream::start_tls_server(std::shared_ptr<TlsServerContext> context,
                                                         std::string* why) {
  tls_ = std::make_unique<Tls>(socket_, context, context->context());
  auto [ec] = co_await tls_->stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
  if (ec) handshake_failed(ec, why);
  co_return ec;
}

asio::awaitable<std::error_code> Stream::start_tls_client(std::shared_ptr<TlsClientContext> context,
                                                         std::string host, std::string* why) {
  tls_ = std::make_unique<Tls>(socket_, context, context->context());
  if (auto problem = context->prepare(tls_->stream.native_handle(), host)) {
    tls_->failed = true;
    if (why != nullptr) *why = *problem;
    co_return make_error_code(std::errc::invalid_argument);
  }
  auto [ec] = co_await tls_->stream.async_handshake(asio::ssl::stream_base::client, use_nothrow);
  if (ec) handshake_failed(ec, why);
  co_return ec;
}

void Stream::handshake_failed(const std::error_code& ec, std::string* why) {
  tls_->failed = true;
  if (why != nullptr) *why = describe_handshake_error(tls_->stream.native_handle(), ec);
}

asio::awaitable<void> Stream::close_gracefully(std::chrono::milliseconds limit) {
  if (!socket_.is_open()) co_return;
  if (tls_ && !tls_->failed) {
    // close_notify, then TLS reads (and drops) what the peer sends until it
    // closes too: the same drain as below, a layer up.
    auto shutdown = [this]() -> asio::awaitable<bool> {
      auto [ec] = co_await tls_->stream.async_shutdown(use_nothrow);
      co_return !ec;
    };
    (void)co_await with_deadline(*this, shutdown(), limit);
    close();
    co_return;
  }
  std::error_code ignored;
  socket_.shutdown(Socket::shutdown_send, ignored);
  auto drain = [this]() -> asio::awaitable<bool> {
    std::array<std::byte, 4096> sink;
    std::size_t total = 0;
    while (total < 256 * 1024) {
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(sink), use_nothrow);
      if (ec) co_return true;
      total += n;
    }
    co_return false;
  };
  (void)co_await with_deadline(*this, drain(), limit);
  close();
}

}  // namespace pggat::net
