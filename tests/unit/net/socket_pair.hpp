// One end of a socket pair as a net::Socket on an io_context, the other a plain descriptor: tests of the net layer.
#pragma once

#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <asio/io_context.hpp>

#include "net/stream.hpp"

namespace pggat::test {

// `inside` becomes a socket on `io`; the other end stays a plain fd, in `outside`.
inline net::Socket socket_pair(asio::io_context& io, int& outside) {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  outside = fds[0];
  net::Socket s(io);
  s.assign(asio::generic::stream_protocol(AF_UNIX, 0), fds[1]);
  return s;
}

}  // namespace pggat::test
