// idle_transaction_timeout: a client that keeps its server waiting is cut, and
// the server goes back to the pool rolled back, in both pool modes.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "pggat/proto/frontend.hpp"
#include "pggat/proto/writer.hpp"
#include "support/pooler.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"
#include "support/raw_client.hpp"

using namespace pggat;
using namespace pggat::test;
using namespace std::chrono_literals;

namespace {

// One server only: whatever a stalled client holds, the next client needs.
nlohmann::json one_server(const std::string& mode, const std::string& timeout) {
  return session_config({{"mode", mode}, {"idle_transaction_timeout", timeout}},
                        {{"max_connections", 1}});
}

void send_query(RawClient& c, const std::string& sql) {
  proto::Buffer b;
  proto::fe::Query{sql}.encode(b);
  c.send(b);
}

}  // namespace

TEST_CASE("idle_transaction_timeout cuts a client idle in a transaction; its work is rolled back",
          "[idle_timeout]") {
  const std::string mode = GENERATE(std::string("session"), std::string("transaction"));
  INFO(mode << " mode");
  PostgresServer::instance().execute("drop table if exists idle_timeout_rows", "app");
  {
    PqConnection direct(PostgresServer::instance().conninfo(app_role.user, app_role.password));
    REQUIRE(direct.exec("create table if not exists idle_timeout_rows (n int)").ok());
    REQUIRE(direct.exec("truncate idle_timeout_rows").ok());
  }
  InProcessPooler p(one_server(mode, "300ms"));

  RawClient idle("127.0.0.1", p.port());
  idle.send_startup("app", "app");
  REQUIRE(idle.read_until_ready());
  send_query(idle, "begin; insert into idle_timeout_rows values (1)");
  // Its insert succeeded: ReadyForQuery says "in a transaction", not "failed".
  std::optional<RawMessage> m;
  while ((m = idle.read()) && m->type != 'Z') {}
  REQUIRE(m);
  REQUIRE(m->body.size() == 1);
  CHECK(static_cast<char>(m->body[0]) == 'T');
  // Silent inside the transaction: cut, with PostgreSQL's code for it.
  const auto error = idle.read_error(10s);
  REQUIRE(error);
  CHECK(error->code == "25P03");
  CHECK(error->message == "terminating connection due to idle-in-transaction timeout");
  CHECK(idle.closed());

  // The only server was rolled back and serves the next client.
  PqConnection next(p.conninfo());
  const PqResult rows = next.exec("select count(*) from idle_timeout_rows");
  INFO(rows.error());
  REQUIRE(rows.ok());
  CHECK(rows.value() == "0");
}

TEST_CASE("idle_transaction_timeout: a client stalled in the middle of a message or batch is cut",
          "[idle_timeout]") {
  InProcessPooler p(one_server("transaction", "300ms"));
  SECTION("half a message") {
    RawClient stalled("127.0.0.1", p.port());
    stalled.send_startup("app", "app");
    REQUIRE(stalled.read_until_ready());
    proto::Buffer parse;
    proto::fe::Parse{"", "select 1", {}}.encode(parse);
    stalled.send(proto::Bytes(parse.data(), 6));  // its header and a byte
    const auto error = stalled.read_error(10s);
    REQUIRE(error);
    CHECK(error->code == "25P03");
  }
  SECTION("a Parse without Sync") {
    RawClient stalled("127.0.0.1", p.port());
    stalled.send_startup("app", "app");
    REQUIRE(stalled.read_until_ready());
    proto::Buffer parse;
    proto::fe::Parse{"", "select 1", {}}.encode(parse);
    stalled.send(parse);
    const auto error = stalled.read_error(10s);
    REQUIRE(error);
    CHECK(error->code == "25P03");
  }
  PqConnection next(p.conninfo());
  CHECK(next.exec("select 1").value() == "1");
}

TEST_CASE("idle_transaction_timeout leaves alone clients that are idle outside a transaction "
          "or waiting for the server", "[idle_timeout]") {
  InProcessPooler p(one_server("session", "300ms"));
  PqConnection c(p.conninfo());
  CHECK(c.exec("select 1").value() == "1");
  // Idle with no transaction open: the session keeps its server (that is
  // what session mode is), and is not cut.
  std::this_thread::sleep_for(700ms);
  CHECK(c.exec("select 2").value() == "2");
  // A query longer than the limit: the client waits for the server, not the reverse.
  CHECK(c.exec("begin").ok());
  CHECK(c.exec("select pg_sleep(0.7)").ok());
  CHECK(c.exec("commit").ok());
}

TEST_CASE("idle_transaction_timeout: a server lost while its client idles ends the session at once",
          "[idle_timeout]") {
  InProcessPooler p(one_server("session", "60s"));
  RawClient idle("127.0.0.1", p.port());
  idle.send_startup("app", "app");
  REQUIRE(idle.read_until_ready());
  send_query(idle, "begin; select pg_backend_pid()");
  REQUIRE(idle.read_until_ready());
  // The timed read of the idle client must give way when the server goes.
  PostgresServer::instance().execute(
      "select pg_terminate_backend(pid) from pg_stat_activity where usename = 'app' and "
      "state = 'idle in transaction'");
  CHECK(idle.read_error(10s));
  CHECK(idle.closed(10s));
}
