// Listen and dial addresses: TCP forms, IPv6 in brackets, unix socket directories and paths.
#include "net/address.hpp"

#include <sys/un.h>

#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <catch2/catch.hpp>
#include <string>

using Catch::Matchers::Contains;
using pggat::net::Address;
using pggat::net::parse_address;

namespace {

Address parsed(std::string_view text) {
  auto a = parse_address(text);
  INFO("\"" << text << "\"");
  REQUIRE(a.has_value());
  return *a;
}

std::string error_of(std::string_view text) {
  auto a = parse_address(text);
  INFO("\"" << text << "\" parsed");
  REQUIRE_FALSE(a.has_value());
  return a.error();
}

constexpr std::size_t sun_path_size = sizeof(sockaddr_un::sun_path);

}  // namespace

TEST_CASE("parse_address reads host:port and a bare host", "[net][address]") {
  const Address v4 = parsed("127.0.0.1:6432");
  CHECK_FALSE(v4.is_unix());
  CHECK(v4.host == "127.0.0.1");
  CHECK(v4.port == 6432);
  CHECK(v4.to_string() == "127.0.0.1:6432");

  const Address name = parsed("localhost");
  CHECK(name.host == "localhost");
  CHECK(name.port == 5432);
  CHECK(name.to_string() == "localhost:5432");

  const Address any = parsed(":6432");
  CHECK(any.host.empty());  // all interfaces
  CHECK(any.port == 6432);

  CHECK(parsed("db.example.com:1").port == 1);
  CHECK(parsed("db:65535").port == 65535);
  CHECK(parsed("db:0").port == 0);  // let the kernel pick, for listeners
}

TEST_CASE("parse_address reads IPv6 in brackets", "[net][address]") {
  const Address v6 = parsed("[::1]:5433");
  CHECK_FALSE(v6.is_unix());
  CHECK(v6.host == "::1");
  CHECK(v6.port == 5433);
  CHECK(v6.to_string() == "[::1]:5433");

  const Address no_port = parsed("[fe80::1]");
  CHECK(no_port.host == "fe80::1");
  CHECK(no_port.port == 5432);
  CHECK(no_port.to_string() == "[fe80::1]:5432");

  CHECK(parsed("[::]:6432").host == "::");
}

TEST_CASE("parse_address reads unix socket directories and paths", "[net][address]") {
  const Address dir = parsed("/tmp/dir");
  CHECK(dir.is_unix());
  CHECK(dir.path == "/tmp/dir/.s.PGSQL.5432");
  CHECK(dir.port == 5432);
  CHECK(dir.directory() == "/tmp/dir");
  CHECK(dir.to_string() == "/tmp/dir/.s.PGSQL.5432");

  const Address with_port = parsed("/tmp/dir:6433");
  CHECK(with_port.path == "/tmp/dir/.s.PGSQL.6433");
  CHECK(with_port.port == 6433);
  CHECK(with_port.directory() == "/tmp/dir");

  const Address full = parsed("/tmp/dir/.s.PGSQL.7000");
  CHECK(full.path == "/tmp/dir/.s.PGSQL.7000");
  CHECK(full.port == 7000);
  CHECK(full.directory() == "/tmp/dir");

  CHECK(parsed("/tmp/dir/").path == "/tmp/dir/.s.PGSQL.5432");
  const Address root = parsed("/");
  CHECK(root.path == "/.s.PGSQL.5432");
  CHECK(root.directory() == "/");
  // A colon that is part of a directory name is not a port.
  CHECK(parsed("/tmp/a:b").path == "/tmp/a:b/.s.PGSQL.5432");
  CHECK(parsed("/tmp/a:1/sub").path == "/tmp/a:1/sub/.s.PGSQL.5432");
}

TEST_CASE("parse_address explains what is wrong", "[net][address]") {
  CHECK_THAT(error_of(""), Contains("empty"));
  CHECK_THAT(error_of("::1:5432"), Contains("brackets") && Contains("[::1]:5432"));
  CHECK_THAT(error_of("::1"), Contains("brackets"));
  CHECK_THAT(error_of("[::1"), Contains("missing ']'"));
  CHECK_THAT(error_of("[::1]5432"), Contains("invalid port"));
  CHECK_THAT(error_of("[::1]:"), Contains("invalid port"));
  CHECK_THAT(error_of("[not-v6]:5432"), Contains("invalid IPv6 address \"not-v6\""));
  CHECK_THAT(error_of("[]:5432"), Contains("invalid IPv6"));
  CHECK_THAT(error_of("host:abc"), Contains("invalid port in address \"host:abc\""));
  CHECK_THAT(error_of("host:70000"), Contains("invalid port"));
  CHECK_THAT(error_of("host:99999"), Contains("invalid port"));
  CHECK_THAT(error_of("host:"), Contains("invalid port"));
  CHECK_THAT(error_of("host:-1"), Contains("invalid port"));
  CHECK_THAT(error_of("host:+80"), Contains("invalid port"));
  CHECK_THAT(error_of("host:123456"), Contains("invalid port"));
  CHECK_THAT(error_of("/tmp/dir:70000"), Contains("invalid port"));
  CHECK_THAT(error_of("/tmp/dir/.s.PGSQL.x"), Contains("invalid port"));
  CHECK_THAT(error_of("/tmp/dir/.s.PGSQL."), Contains("invalid port"));
}

TEST_CASE("parse_address rejects unix socket paths that do not fit sun_path", "[net][address]") {
  // The socket path is <dir>/.s.PGSQL.5432: 15 bytes after the directory.
  const std::size_t fits = sun_path_size - 1 - std::string("/.s.PGSQL.5432").size();
  const std::string longest_dir = "/" + std::string(fits - 1, 'd');
  CHECK(parsed(longest_dir).path.size() == sun_path_size - 1);

  const std::string too_long = longest_dir + "d";
  CHECK_THAT(error_of(too_long),
             Contains("is longer than " + std::to_string(sun_path_size - 1) + " bytes"));
  CHECK_THAT(error_of("/" + std::string(200, 'x') + "/.s.PGSQL.5432"), Contains("longer"));
}

TEST_CASE("endpoint_to_string prints IPv4, IPv6 and unix socket peers", "[net][address]") {
  using asio::generic::stream_protocol;
  using pggat::net::endpoint_to_string;
  const auto tcp = [](const char* host, unsigned short port) {
    return stream_protocol::endpoint(asio::ip::tcp::endpoint(asio::ip::make_address(host), port));
  };
  // IPv4 is formatted by hand: every octet width, and the port's extremes.
  CHECK(endpoint_to_string(tcp("127.0.0.1", 5432)) == "127.0.0.1:5432");
  CHECK(endpoint_to_string(tcp("255.255.255.255", 65535)) == "255.255.255.255:65535");
  CHECK(endpoint_to_string(tcp("0.0.0.0", 0)) == "0.0.0.0:0");
  CHECK(endpoint_to_string(tcp("10.20.100.9", 80)) == "10.20.100.9:80");
  CHECK(endpoint_to_string(tcp("::1", 6432)) == "[::1]:6432");
  CHECK(endpoint_to_string(stream_protocol::endpoint(asio::local::stream_protocol::endpoint("/tmp/.s.PGSQL.6432"))) ==
        "/tmp/.s.PGSQL.6432");
}
