// Stream::move_to: a stream handed to another io_context completes its operations there.
#include "net/stream.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

using pggat::net::Socket;
using pggat::net::Stream;

namespace {

// `inside` becomes a socket on `io`; the other end stays a plain fd.
Socket socket_pair(asio::io_context& io, int& outside) {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  outside = fds[0];
  Socket s(io);
  s.assign(asio::generic::stream_protocol(AF_UNIX, 0), fds[1]);
  return s;
}

asio::awaitable<void> read_into(Stream& stream, std::string& out) {
  char buf[16];
  auto [ec, n] = co_await stream.read_some(asio::buffer(buf));
  if (!ec) out.assign(buf, n);
}

}  // namespace

TEST_CASE("Stream::move_to completes reads on the new io_context alone", "[net][stream]") {
  asio::io_context home;
  asio::io_context other;
  int outside = -1;
  Stream stream(socket_pair(home, outside));
  const int fd = stream.socket().native_handle();
  REQUIRE(::write(outside, "hello", 5) == 5);

  stream.move_to(other.get_executor());
  CHECK(stream.get_executor() == asio::any_io_executor(other.get_executor()));
  CHECK(stream.socket().native_handle() == fd);  // the same connection, not a copy

  // Only `other` runs: had the socket stayed registered with `home`, the
  // read's completion would wait there forever and `out` would stay empty.
  std::string out;
  asio::co_spawn(other, read_into(stream, out), asio::detached);
  other.run();
  CHECK(out == "hello");

  // And writes go out from there too.
  std::string written;
  asio::co_spawn(
      other,
      [&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await stream.write(asio::buffer(std::string_view("bye")));
        if (!ec) written.assign("bye", n);
      },
      asio::detached);
  other.restart();
  other.run();
  CHECK(written == "bye");
  char back[3];
  CHECK(::read(outside, back, 3) == 3);
  CHECK(std::string(back, 3) == "bye");
  ::close(outside);
}

TEST_CASE("Stream::move_to the executor it has changes nothing", "[net][stream]") {
  asio::io_context home;
  int outside = -1;
  Stream stream(socket_pair(home, outside));
  const int fd = stream.socket().native_handle();
  stream.move_to(home.get_executor());
  CHECK(stream.socket().native_handle() == fd);
  CHECK(stream.get_executor() == asio::any_io_executor(home.get_executor()));
  ::close(outside);
}

TEST_CASE("Stream::move_to leaves a closed stream closed", "[net][stream]") {
  asio::io_context home;
  asio::io_context other;
  int outside = -1;
  Stream stream(socket_pair(home, outside));
  stream.close();
  stream.move_to(other.get_executor());
  CHECK_FALSE(stream.is_open());
  ::close(outside);
}
