// The test harness itself: the throwaway PostgreSQL and its roles behave as promised.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "support/ports.hpp"
#include "support/postgres_server.hpp"

namespace {

using pggat::test::PostgresServer;
using pggat::test::Role;

struct Case {
  Role role;
  std::string method;         // pg_hba.conf method the server must have used
  std::string stored_prefix;  // how pg_authid stores the password
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all{
      {pggat::test::app_role, "scram-sha-256", "SCRAM-SHA-256$"},
      {pggat::test::md5_role, "md5", "md5"},
      {pggat::test::plain_role, "password", "SCRAM-SHA-256$"},
      {pggat::test::superuser_role, "scram-sha-256", "SCRAM-SHA-256$"},
  };
  return all;
}

std::string str(std::string_view s) { return std::string(s); }

// The method the server logged for backend pid (log_connections is on; the
// line is written before the backend sends AuthenticationOk).
std::string logged_method(const PostgresServer& server, int pid) {
  std::ifstream log(server.log_file());
  const std::string tag = "[" + std::to_string(pid) + "] ";
  const std::string needle = "connection authenticated: ";
  std::string line;
  std::string method;
  while (std::getline(log, line)) {
    if (line.find(tag) == std::string::npos || line.find(needle) == std::string::npos) continue;
    const auto at = line.find("method=");
    if (at == std::string::npos) continue;
    const auto end = line.find(' ', at);
    method = line.substr(at + 7, end == std::string::npos ? end : end - at - 7);
  }
  return method;
}

}  // namespace

TEST_CASE("the throwaway server has an address and a data directory", "[harness]") {
  auto& server = PostgresServer::instance();
  CHECK(server.host() == "127.0.0.1");
  CHECK(server.port() > 0);
  CHECK(server.address() == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(std::ifstream(server.data_dir() + "/PG_VERSION").good());
  CHECK(&server == &PostgresServer::instance());
  const auto result = server.execute("SELECT current_setting('server_version_num')::int / 10000");
  CHECK(result[0][0].as<int>() == 15);
}

TEST_CASE("each role logs in with its pg_hba method over TCP and the unix socket",
          "[harness]") {
  auto& server = PostgresServer::instance();
  for (const auto& c : cases()) {
    for (const bool unix_socket : {false, true}) {
      DYNAMIC_SECTION(c.role.user << (unix_socket ? " over the unix socket" : " over TCP")) {
        const std::string conninfo =
            unix_socket ? server.socket_conninfo(c.role.user, c.role.password, "app")
                        : server.conninfo(c.role.user, c.role.password, "app");
        pqxx::connection connection{conninfo};
        pqxx::nontransaction work{connection};
        const auto row = work.exec1("SELECT current_user, pg_backend_pid()");
        CHECK(row[0].as<std::string>() == str(c.role.user));
        CHECK(logged_method(server, row[1].as<int>()) == c.method);
      }
    }
  }
}

TEST_CASE("roles can reach the postgres database too", "[harness]") {
  auto& server = PostgresServer::instance();
  for (const auto& c : cases()) {
    pqxx::connection connection{server.conninfo(c.role.user, c.role.password, "postgres")};
    pqxx::nontransaction work{connection};
    CHECK(work.exec1("SELECT current_database()")[0].as<std::string>() == "postgres");
  }
}

TEST_CASE("passwords are stored as the roles need", "[harness]") {
  auto& server = PostgresServer::instance();
  for (const auto& c : cases()) {
    const auto row = server.execute(
        "SELECT rolpassword LIKE '" + c.stored_prefix + "%' FROM pg_authid WHERE rolname = '" +
        str(c.role.user) + "'");
    REQUIRE(row.size() == 1);
    CHECK(row[0][0].as<bool>());
  }
  const auto owner = server.execute(
      "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'");
  CHECK(owner[0][0].as<std::string>() == "app");
}

TEST_CASE("a wrong password is rejected for every method", "[harness]") {
  auto& server = PostgresServer::instance();
  for (const auto& c : cases()) {
    for (const bool unix_socket : {false, true}) {
      DYNAMIC_SECTION(c.role.user << (unix_socket ? " over the unix socket" : " over TCP")) {
        const std::string conninfo =
            unix_socket ? server.socket_conninfo(c.role.user, "wrong-pass", "app")
                        : server.conninfo(c.role.user, "wrong-pass", "app");
        std::string message;
        try {
          pqxx::connection connection{conninfo};
          FAIL("connected with a wrong password");
        } catch (const pqxx::broken_connection& e) {
          message = e.what();
        }
        CHECK_THAT(message, Catch::Matchers::Contains("password authentication failed"));
      }
    }
  }
}

TEST_CASE("terminate_backends_of ends exactly that user's sessions", "[harness]") {
  auto& server = PostgresServer::instance();
  pqxx::connection victim{server.conninfo("app", "app-pass", "app")};
  pqxx::connection bystander{server.conninfo("md5user", "md5-pass", "app")};
  {
    pqxx::nontransaction work{victim};
    work.exec("SELECT 1");
  }
  CHECK(server.terminate_backends_of("app") == 1);
  CHECK(server.terminate_backends_of("nobody-has-this-name") == 0);
  CHECK_THROWS(pqxx::nontransaction{victim}.exec("SELECT 1"));
  pqxx::nontransaction work{bystander};
  CHECK(work.exec1("SELECT 1")[0].as<int>() == 1);
}

TEST_CASE("free_tcp_port returns a port that can be bound", "[harness]") {
  const std::uint16_t port = pggat::test::free_tcp_port();
  REQUIRE(port > 0);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  ::close(fd);
  CHECK(bound == 0);
}
