// Raw-socket PostgreSQL client for protocol-level tests.
#include "support/raw_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "pggat/proto/backend.hpp"
#include "pggat/proto/startup.hpp"

namespace pggat::test {

RawClient::RawClient(const std::string& host, std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

void RawClient::send(proto::Bytes bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
}

void RawClient::shutdown_write() {
  if (::shutdown(fd_, SHUT_WR) != 0) throw std::runtime_error(std::string("shutdown: ") + std::strerror(errno));
}

void RawClient::send_startup(const std::string& user, const std::string& database) {
  proto::Buffer out;
  const std::pair<std::string_view, std::string_view> params[] = {{"user", user},
                                                                  {"database", database}};
  proto::StartupMessage::encode(out, params);
  send(out);
}

bool RawClient::fill(std::chrono::milliseconds timeout) {
  if (eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  std::byte chunk[65536];
  const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  in_.insert(in_.end(), chunk, chunk + n);
  return true;
}

std::optional<RawMessage> RawClient::read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (in_.size() >= 5) {
      const std::uint32_t len = (std::to_integer<std::uint32_t>(in_[1]) << 24) |
                                (std::to_integer<std::uint32_t>(in_[2]) << 16) |
                                (std::to_integer<std::uint32_t>(in_[3]) << 8) |
                                std::to_integer<std::uint32_t>(in_[4]);
      if (in_.size() >= 1 + std::size_t{len}) {
        RawMessage m{static_cast<char>(in_[0]), proto::Buffer(in_.begin() + 5, in_.begin() + 1 + len)};
        in_.erase(in_.begin(), in_.begin() + 1 + len);
        return m;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !fill(left)) return std::nullopt;
  }
}

std::optional<PgError> RawClient::read_error(std::chrono::milliseconds timeout) {
  while (auto m = read(timeout)) {
    if (m->type == 'E') {
      const auto e = proto::be::ErrorResponse::decode(m->body);
      if (e) return e->to_pg_error();
      return std::nullopt;
    }
  }
  return std::nullopt;
}

bool RawClient::read_until_ready(std::chrono::milliseconds timeout) {
  while (auto m = read(timeout))
    if (m->type == 'Z') return true;
  return false;
}

bool RawClient::closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    in_.clear();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    fill(left);
  }
  return true;
}

std::optional<char> RawClient::read_byte(std::chrono::milliseconds timeout) {
  if (in_.empty() && !fill(timeout)) return std::nullopt;
  const char c = static_cast<char>(in_.front());
  in_.erase(in_.begin());
  return c;
}

}  // namespace pggat::test
