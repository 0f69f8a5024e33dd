// RelayLoop: socket pairs, the two peer threads, and the io_context running relay_unit.
#include "support/relay_loop.hpp"

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

namespace pggat::test {
namespace {

std::string message(char type, std::string_view body) {
  std::string out(1, type);
  const auto len = static_cast<std::uint32_t>(body.size() + 4);
  for (int shift : {24, 16, 8, 0}) out += static_cast<char>((len >> shift) & 0xff);
  return out.append(body);
}

void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
}

// Reads exactly expected.size() bytes and says whether they are `expected`.
bool read_exactly(int fd, const std::string& expected, std::string& scratch) {
  scratch.resize(expected.size());
  std::size_t done = 0;
  while (done < expected.size()) {
    const ssize_t n = ::recv(fd, scratch.data() + done, expected.size() - done, 0);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return scratch == expected;
}

std::chrono::nanoseconds thread_cpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// One end stays outside (a plain fd for a peer thread), the other becomes a socket.
net::Socket socket_pair(asio::io_context& io, int& outside) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair failed");
  outside = fds[0];
  net::Socket s(io);
  s.assign(asio::generic::stream_protocol(AF_UNIX, 0), fds[1]);
  return s;
}

}  // namespace

RelayLoop::RelayLoop()
    : query_(message('Q', std::string_view("select 1\0", 9))),
      reply_(message('C', std::string_view("SELECT 1\0", 9)) + message('Z', "I")) {
  session_ = std::make_unique<detail::ClientSession>(socket_pair(io_, client_outside_),
                                                     detail::ClientSession::Facts{}, BackendKey{1, 2});
  server_ = std::make_unique<backend::ServerConnection>(socket_pair(io_, server_outside_), net::Address{}, 1);
}

RelayLoop::~RelayLoop() {
  session_.reset();
  server_.reset();
  ::close(client_outside_);
  ::close(server_outside_);
}

int RelayLoop::run(int count, const std::function<void(int)>& before_unit) {
  std::atomic<int> peer_failures{0};
  std::thread client_peer([&] {
    std::string scratch;
    for (int i = 0; i < count; ++i) {
      write_all(client_outside_, query_);
      if (!read_exactly(client_outside_, reply_, scratch)) ++peer_failures;
    }
  });
  std::thread server_peer([&] {
    std::string scratch;
    for (int i = 0; i < count; ++i) {
      if (!read_exactly(server_outside_, query_, scratch)) ++peer_failures;
      write_all(server_outside_, reply_);
    }
  });
  int released = 0;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        const pool::UnitOptions options{};
        for (int i = 0; i < count; ++i) {
          if (before_unit) before_unit(i);
          const pool::UnitOutcome outcome =
              co_await pool::relay_unit(*session_, *server_, server_state_, client_state_, options, {});
          if (outcome.end == pool::UnitOutcome::End::released) ++released;
        }
      },
      asio::detached);
  io_.restart();
  const auto cpu_before = thread_cpu();
  io_.run();
  last_run_cpu_ = thread_cpu() - cpu_before;
  client_peer.join();
  server_peer.join();
  if (peer_failures > 0) throw std::runtime_error("a peer received unexpected bytes");
  return released;
}

}  // namespace pggat::test
