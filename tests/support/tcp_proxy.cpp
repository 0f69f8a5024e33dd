// TcpProxy: accept, connect to the target, copy bytes both ways until either side or cut_all() ends it.
#include "support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace pggat::test {
namespace {

sockaddr_in loopback(const std::string& host, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
    throw std::runtime_error("TcpProxy: not an IPv4 address: " + host);
  return a;
}

}  // namespace

TcpProxy::TcpProxy(std::string target_host, std::uint16_t target_port, std::uint16_t listen_port)
    : target_host_(std::move(target_host)), target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  const int on = 1;
  if (listen_fd_ >= 0) ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in a = loopback("127.0.0.1", listen_port);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("TcpProxy: cannot listen");
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  cut_all();
  for (auto& t : threads_) t.join();
}

void TcpProxy::cut_all() {
  std::lock_guard lock(mu_);
  // shutdown wakes the pump threads; they close their own descriptors.
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
}

void TcpProxy::accept_loop() {
  while (!stopping_) {
    const int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) return;
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in target = loopback(target_host_, target_port_);
    if (::connect(server, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
      ::close(client);
      ::close(server);
      continue;
    }
    ++accepted_;
    std::lock_guard lock(mu_);
    open_fds_.push_back(client);
    open_fds_.push_back(server);
    threads_.emplace_back([this, client, server] { pump(client, server); });
  }
}

void TcpProxy::pump(int client_fd, int server_fd) {
  pollfd fds[2] = {{client_fd, POLLIN, 0}, {server_fd, POLLIN, 0}};
  char buf[16384];
  // Counting the client's messages: a header is read byte by byte, then the
  // body skipped. The startup packet has no type byte.
  std::string header(1, '\0');
  std::size_t body_left = 0;
  bool startup = true;
  auto count = [&](const char* data, std::size_t n) {
    for (std::size_t i = 0; i < n;) {
      if (body_left > 0) {
        const std::size_t k = std::min(body_left, n - i);
        body_left -= k;
        i += k;
        continue;
      }
      header += data[i++];
      if (header.size() < 5) continue;
      const auto len = static_cast<std::uint32_t>(static_cast<unsigned char>(header[1]) << 24 |
                                                  static_cast<unsigned char>(header[2]) << 16 |
                                                  static_cast<unsigned char>(header[3]) << 8 |
                                                  static_cast<unsigned char>(header[4]));
      if (!startup) ++sent_[static_cast<unsigned char>(header[0])];
      body_left = len - 4;  // the length counts itself, never the type byte
      startup = false;
      header.clear();
    }
  };
  for (;;) {
    if (::poll(fds, 2, -1) < 0) break;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
      if (n <= 0) {
        done = true;
        break;
      }
      if (i == 0) count(buf, static_cast<std::size_t>(n));
      const int to = fds[1 - i].fd;
      for (ssize_t sent = 0; sent < n;) {
        const ssize_t m = ::send(to, buf + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
        if (m <= 0) {
          done = true;
          break;
        }
        sent += m;
      }
    }
    if (done) break;
  }
  {
    std::lock_guard lock(mu_);
    std::erase(open_fds_, client_fd);
    std::erase(open_fds_, server_fd);
  }
  ::close(client_fd);
  ::close(server_fd);
}

}  // namespace pggat::test
