// Listen and dial addresses: host:port, [v6]:port, and unix socket directories.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <asio/generic/stream_protocol.hpp>

#include "pggat/expected.hpp"

namespace pggat::net {

inline constexpr std::uint16_t default_port = 5432;

struct Address {
  enum class Kind { tcp, unix_socket };
  Kind kind = Kind::tcp;
  std::string host;  // tcp: name or literal, without brackets; may be empty (all interfaces)
  std::uint16_t port = default_port;
  std::string path;  // unix: full socket path, <dir>/.s.PGSQL.<port>

  [[nodiscard]] bool is_unix() const { return kind == Kind::unix_socket; }
  // "127.0.0.1:5432", "[::1]:5432" or the socket path.
  [[nodiscard]] std::string to_string() const;
  // The directory of a unix socket (what psql calls host=).
  [[nodiscard]] std::string directory() const;
};

// Parses "host:port", "host" (port 5432), "[v6]:port", ":port", "/dir" (socket
// /dir/.s.PGSQL.5432), "/dir:6432" (/dir/.s.PGSQL.6432) or a full
// "/dir/.s.PGSQL.6432" path. The error text says what is wrong.
[[nodiscard]] Expected<Address, std::string> parse_address(std::string_view text);

// Textual form of a connected or bound endpoint, for logs and Client facts.
[[nodiscard]] std::string endpoint_to_string(const asio::generic::stream_protocol::endpoint& ep);

}  // namespace pggat::net
