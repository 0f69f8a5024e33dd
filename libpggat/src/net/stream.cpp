// Stream: the closing handshake that keeps a final error from being lost.
#include "net/stream.hpp"

#include "net/deadline.hpp"

namespace pggat::net {

asio::awaitable<void> Stream::close_gracefully(std::chrono::milliseconds limit) {
  if (!socket_.is_open()) co_return;
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
  (void)co_await with_timeout(drain(), limit);
  close();
}

}  // namespace pggat::net
