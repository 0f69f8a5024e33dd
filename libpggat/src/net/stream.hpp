// Stream: one socket (TCP or unix) with awaitable, non-throwing read and write.
#pragma once

#include <chrono>

#include <asio/awaitable.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <asio/experimental/as_tuple.hpp>

namespace pggat::net {

using Socket = asio::generic::stream_protocol::socket;

// Completion token for the data path: errors come back as values.
inline constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

// The single place the rest of the code reads and writes bytes, so that TLS can
// slide in under it without touching callers.
class Stream {
 public:
  explicit Stream(Socket socket) : socket_(std::move(socket)) {}

  // co_await yields std::tuple<std::error_code, std::size_t>.
  auto read_some(asio::mutable_buffer buffer) {
    return socket_.async_read_some(buffer, use_nothrow);
  }
  // Writes every byte of the sequence; yields std::tuple<std::error_code, std::size_t>.
  template <class ConstBufferSequence>
  auto write(const ConstBufferSequence& buffers) {
    return asio::async_write(socket_, buffers, use_nothrow);
  }
  // Completes when data (or EOF) is ready, without consuming it.
  auto wait_readable() { return socket_.async_wait(Socket::wait_read, use_nothrow); }

  // Cancels pending operations; the stream stays usable.
  void cancel() noexcept {
    std::error_code ignored;
    socket_.cancel(ignored);
  }
  // Shuts down and closes; pending operations complete with operation_aborted.
  void close() noexcept {
    std::error_code ignored;
    if (!socket_.is_open()) return;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
  // Sends FIN, then reads and drops what the peer still sends (up to a cap and
  // a deadline) before closing. Closing with unread input makes the kernel
  // send RST, and a peer that gets RST may lose our last message (a FATAL
  // error) before reading it.
  asio::awaitable<void> close_gracefully(std::chrono::milliseconds limit);

  [[nodiscard]] bool is_open() const { return socket_.is_open(); }
  [[nodiscard]] Socket& socket() { return socket_; }
  [[nodiscard]] auto get_executor() { return socket_.get_executor(); }

 private:
  Socket socket_;
};

}  // namespace pggat::net
