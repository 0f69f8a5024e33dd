// Parsing and printing of listen and dial addresses.
#include "net/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <asio/ip/tcp.hpp>
#include <charconv>

namespace pggat::net {
namespace {

constexpr std::string_view socket_prefix = ".s.PGSQL.";

bool parse_port(std::string_view s, std::uint16_t& port) {
  if (s.empty() || s.size() > 5) return false;
  unsigned value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || p != s.data() + s.size() || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Expected<Address, std::string> parse_unix(std::string_view text) {
  Address a;
  a.kind = Address::Kind::unix_socket;
  std::string dir(text);
  const auto slash = text.rfind('/');
  const std::string_view last = text.substr(slash + 1);
  if (last.substr(0, socket_prefix.size()) == socket_prefix) {
    if (!parse_port(last.substr(socket_prefix.size()), a.port))
      return Unexpected(std::string("invalid port in unix socket name \"") + std::string(last) + "\"");
    a.path = std::string(text);
  } else {
    const auto colon = text.rfind(':');
    if (colon != std::string_view::npos && colon > slash && all_digits(text.substr(colon + 1))) {
      if (!parse_port(text.substr(colon + 1), a.port))
        return Unexpected(std::string("invalid port \"") + std::string(text.substr(colon + 1)) + "\"");
      dir = std::string(text.substr(0, colon));
    }
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    a.path = (dir == "/" ? "" : dir) + "/" + std::string(socket_prefix) + std::to_string(a.port);
  }
  if (a.path.size() >= sizeof(sockaddr_un::sun_path))
    return Unexpected("unix socket path \"" + a.path + "\" is longer than " +
                      std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  return a;
}

}  // namespace

std::string Address::to_string() const {
  if (is_unix()) return path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string Address::directory() const {
  const auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

Expected<Address, std::string> parse_address(std::string_view text) {
  if (text.empty()) return Unexpected(std::string("empty address"));
  if (text.front() == '/') return parse_unix(text);
  Address a;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos)
      return Unexpected("missing ']' in address \"" + std::string(text) + "\"");
    a.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':' || !parse_port(rest.substr(1), a.port))
        return Unexpected("invalid port in address \"" + std::string(text) + "\"");
    }
    asio::error_code ec;
    asio::ip::make_address_v6(a.host, ec);
    if (ec) return Unexpected("invalid IPv6 address \"" + a.host + "\"");
    return a;
  }
  const auto colon = text.rfind(':');
  if (colon != std::string_view::npos && text.find(':') != colon)
    return Unexpected("IPv6 address \"" + std::string(text) +
                      "\" must be written in brackets, like [::1]:5432");
  if (colon == std::string_view::npos) {
    a.host = std::string(text);
    return a;
  }
  a.host = std::string(text.substr(0, colon));
  if (!parse_port(text.substr(colon + 1), a.port))
    return Unexpected("invalid port in address \"" + std::string(text) + "\"");
  return a;
}

namespace {

// `value`'s decimal digits at `out`; the end of them. No error path (unlike
// std::to_chars), so g++ -O3 can see that an address fits its buffer.
char* append_decimal(char* out, unsigned value) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

}  // namespace

std::string endpoint_to_string(const asio::generic::stream_protocol::endpoint& ep) {
  const sockaddr* sa = ep.data();
  if (sa->sa_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
    const std::size_t max = ep.size() > offsetof(sockaddr_un, sun_path)
                                ? ep.size() - offsetof(sockaddr_un, sun_path)
                                : 0;
    std::string path(un->sun_path, strnlen(un->sun_path, max));
    return path.empty() ? "[local]" : path;
  }
  if (sa->sa_family == AF_INET && ep.size() >= sizeof(sockaddr_in)) {
    // By hand: inet_ntop goes through snprintf, and every client's address
    // is formatted once as it connects.
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    const auto* octet = reinterpret_cast<const unsigned char*>(&in->sin_addr.s_addr);
    char text[sizeof "255.255.255.255:65535"];
    char* p = text;
    for (int i = 0; i < 4; ++i) {
      if (i > 0) *p++ = '.';
      p = append_decimal(p, octet[i]);
    }
    *p++ = ':';
    p = append_decimal(p, ntohs(in->sin_port));
    return std::string(text, p);
  }
  if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
    asio::ip::tcp::endpoint tcp;
    std::memcpy(tcp.data(), sa, std::min<std::size_t>(ep.size(), tcp.capacity()));
    const auto addr = tcp.address();
    if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(tcp.port());
    return addr.to_string() + ":" + std::to_string(tcp.port());
  }
  return "unknown";
}

}  // namespace pggat::net
