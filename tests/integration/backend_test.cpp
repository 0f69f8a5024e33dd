// pggat as a PostgreSQL client: authentication methods, unix sockets, dial failures.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include "support/pooler.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"

using namespace pggat::test;

namespace {

std::string query_through(const nlohmann::json& recipe_overrides, const std::string& sql) {
  InProcessPooler pooler(session_config({{"client_acquire_timeout", "10s"}}, recipe_overrides));
  PqConnection c(pooler.conninfo());
  return c.exec(sql).value();
}

}  // namespace

TEST_CASE("pggat logs in with SCRAM-SHA-256, MD5 and cleartext passwords", "[backend]") {
  CHECK(query_through({{"username", "app"}, {"password", "app-pass"}}, "select current_user") == "app");
  CHECK(query_through({{"username", "md5user"}, {"password", "md5-pass"}}, "select current_user") ==
        "md5user");
  CHECK(query_through({{"username", "plainuser"}, {"password", "plain-pass"}},
                      "select current_user") == "plainuser");
  // MD5 also works from the stored hash alone (pass-the-hash), as PostgreSQL stores it.
  const std::string hash = PostgresServer::instance()
                               .execute("select rolpassword from pg_authid where rolname = 'md5user'")[0][0]
                               .as<std::string>();
  REQUIRE(hash.substr(0, 3) == "md5");
  CHECK(query_through({{"username", "md5user"}, {"password", hash}}, "select current_user") ==
        "md5user");
}

TEST_CASE("a wrong recipe password fails the client with 08006 and the server's reason", "[backend]") {
  InProcessPooler pooler(session_config({}, {{"password", "wrong"}}));
  const std::string error = connection_error(pooler.conninfo());
  INFO(error);
  CHECK(error.find("could not connect to server at") != std::string::npos);
  CHECK(error.find("password authentication failed for user \"app\"") != std::string::npos);
  CHECK(error.find("28P01") != std::string::npos);
}

TEST_CASE("a recipe with only an MD5 hash cannot answer SCRAM, and says so", "[backend]") {
  InProcessPooler pooler(
      session_config({}, {{"password", "md5" + std::string(32, '0')}}));  // app uses SCRAM
  const std::string error = connection_error(pooler.conninfo());
  CHECK(error.find("server asked for SCRAM authentication, and the recipe has only an MD5 hash") !=
        std::string::npos);
}

TEST_CASE("recipes reach PostgreSQL over its unix socket", "[backend]") {
  const auto& pg = PostgresServer::instance();
  const std::string address = pg.socket_dir() + ":" + std::to_string(pg.port());
  CHECK(query_through({{"address", address}},
                      "select coalesce(inet_server_addr()::text, 'unix socket')") == "unix socket");
}

TEST_CASE("a server that accepts but never answers hits connect_timeout", "[backend]") {
  // A listening socket nobody accepts from: TCP connects, startup gets no reply.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  REQUIRE(::listen(fd, 8) == 0);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  const std::string address = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));

  InProcessPooler pooler(session_config({{"client_acquire_timeout", "30s"}},
                                        {{"address", address}, {"connect_timeout", "300ms"}}));
  const auto start = std::chrono::steady_clock::now();
  const std::string error = connection_error(pooler.conninfo());
  const auto took = std::chrono::steady_clock::now() - start;
  INFO(error);
  CHECK(error.find("could not connect to server at \"" + address + "\": timed out after 300ms") !=
        std::string::npos);
  CHECK(took < std::chrono::seconds(10));
  ::close(fd);
}

TEST_CASE("IPv6 listeners work", "[backend]") {
  const int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  const bool have_v6 = probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  if (probe >= 0) ::close(probe);
  if (!have_v6) {
    WARN("no IPv6 loopback here; skipped");
    return;
  }
  InProcessPooler pooler(session_config({}, {}, {{"address", "[::1]:0"}}));
  // The pooler fixture reads the port of its first TCP listener, [::1] included.
  PqConnection c("host=::1 port=" + std::to_string(pooler.port()) + " user=app dbname=app");
  CHECK(c.exec("select 6").value() == "6");
}
