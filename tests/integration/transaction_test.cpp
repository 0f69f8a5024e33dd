// Transaction pooling, client's view: servers shared between transactions,
// parameters and prepared statements following their client, cancel, failures.
#include <libpq-fe.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <utility>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "pggat/registry.hpp"
#include "support/pooler.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"
#include "support/pggat_process.hpp"
#include "support/raw_client.hpp"
#include "support/tcp_proxy.hpp"
#include "pggat/proto/frontend.hpp"

using namespace pggat::test;
using namespace std::chrono_literals;

namespace {

nlohmann::json transaction_config(const nlohmann::json& pool_overrides = {},
                                  const nlohmann::json& recipe_overrides = {{"max_connections", 4}}) {
  // lifo: a released server is the next one lent, so tests can steer clients.
  nlohmann::json pool = {{"mode", "transaction"}, {"pooler", "lifo"}};
  if (pool_overrides.is_object()) pool.update(pool_overrides);
  return session_config(pool, recipe_overrides);
}

std::string setting(PqConnection& c, const std::string& name) {
  const PqResult r = c.exec("select current_setting('" + name + "')");
  REQUIRE(r.ok());
  return r.value();
}

// With a pool of two servers and two helper clients x and y: runs `work` for
// client a once on each server, and returns the two backend pids. Clients in
// open transactions hold the server that a must not get, whatever order the
// pool lends them in.
template <class Work>
std::pair<std::string, std::string> on_each_server(PqConnection& a, PqConnection& x,
                                                   PqConnection& y, Work work) {
  REQUIRE(a.exec("begin").ok());
  const std::string first = a.exec("select pg_backend_pid()").value();  // server P
  work();
  REQUIRE(x.exec("begin").ok());   // x gets Q, the only one free
  REQUIRE(a.exec("commit").ok());  // P is free
  REQUIRE(y.exec("begin").ok());   // y gets P
  REQUIRE(x.exec("commit").ok());  // Q is free, and the only one
  const std::string second = a.exec("select pg_backend_pid()").value();
  work();
  REQUIRE(y.exec("commit").ok());
  return {first, second};
}

}  // namespace

TEST_CASE("transaction mode: servers are shared between clients, one transaction at a time",
          "[transaction]") {
  InProcessPooler pooler(transaction_config({}, {{"max_connections", 1}}));
  PqConnection a(pooler.conninfo());
  PqConnection b(pooler.conninfo());
  // One server, two clients: both work, and both talk to the same backend.
  const std::string pid_a = a.exec("select pg_backend_pid()").value();
  const std::string pid_b = b.exec("select pg_backend_pid()").value();
  CHECK(pid_a == pid_b);
  // A transaction keeps its server until it ends; the other client waits.
  REQUIRE(a.exec("begin").ok());
  REQUIRE(a.exec("create temp table if not exists t (v int)").ok());
  REQUIRE(PQsendQuery(b.get(), "select pg_backend_pid()") == 1);
  REQUIRE(a.exec("commit").ok());
  PGresult* r = PQgetResult(b.get());
  REQUIRE(r != nullptr);
  CHECK(std::string(PQgetvalue(r, 0, 0)) == pid_a);
  PQclear(r);
  while ((r = PQgetResult(b.get())) != nullptr) PQclear(r);
}

TEST_CASE("transaction mode: SET application_name and search_path follow the client",
          "[transaction]") {
  PostgresServer::instance().execute(
      "create schema if not exists txn_alpha; grant usage on schema txn_alpha to app", "app");
  InProcessPooler pooler(transaction_config({}, {{"max_connections", 2}}));
  PqConnection a(pooler.conninfo("app", "app", "application_name=start"));
  PqConnection other(pooler.conninfo());
  PqConnection third(pooler.conninfo());
  CHECK(std::string(PQparameterStatus(a.get(), "application_name")) == "start");
  REQUIRE(a.exec("set application_name = 'alpha'").ok());
  REQUIRE(a.exec("set search_path to txn_alpha, public").ok());
  CHECK(std::string(PQparameterStatus(a.get(), "application_name")) == "alpha");

  // 100 transactions, half of them on each of the two servers.
  std::set<std::string> pids;
  for (int i = 0; i < 50; ++i) {
    const auto [first, second] = on_each_server(a, other, third, [&] {
      const PqResult r =
          a.exec("select current_setting('application_name'), current_setting('search_path')");
      REQUIRE(r.ok());
      CHECK(r.value(0, 0) == "alpha");
      CHECK(r.value(0, 1) == "txn_alpha, public");
    });
    CHECK(first != second);
    pids.insert(first);
    pids.insert(second);
  }
  CHECK(pids.size() == 2);
  // The other client never sees a's settings.
  CHECK(setting(other, "application_name") == "");
  CHECK(setting(other, "search_path") == "\"$user\", public");

  // RESET and a rolled-back SET are followed too.
  REQUIRE(a.exec("reset search_path").ok());
  REQUIRE(a.exec("begin").ok());
  REQUIRE(a.exec("set search_path to nowhere").ok());
  REQUIRE(a.exec("rollback").ok());
  on_each_server(a, other, third, [&] {
    CHECK(setting(a, "search_path") == "\"$user\", public");
    CHECK(setting(a, "application_name") == "alpha");
  });
  CHECK(std::string(PQparameterStatus(a.get(), "application_name")) == "alpha");
}

TEST_CASE("transaction mode: startup parameters follow the client to every server",
          "[transaction]") {
  InProcessPooler pooler(transaction_config({}, {{"max_connections", 2}}));
  PqConnection a(pooler.conninfo("app", "app", "options='-c statement_timeout=1234 -c DateStyle=German'"));
  PqConnection other(pooler.conninfo());
  PqConnection third(pooler.conninfo());
  const auto [first, second] = on_each_server(a, other, third, [&] {
    CHECK(setting(a, "statement_timeout") == "1234ms");
    CHECK(setting(a, "DateStyle") == "German, DMY");
  });
  CHECK(first != second);
  CHECK(setting(other, "statement_timeout") == "0");
  CHECK(setting(other, "DateStyle") == "ISO, MDY");
}

TEST_CASE("transaction mode: protocol-level prepared statements work across servers",
          "[transaction]") {
  InProcessPooler pooler(transaction_config({}, {{"max_connections", 2}}));
  PqConnection a(pooler.conninfo());
  PqConnection other(pooler.conninfo());
  PqConnection third(pooler.conninfo());
  PqResult prepared{PQprepare(a.get(), "add_one", "select $1::int + 1", 0, nullptr)};
  REQUIRE(prepared.ok());

  for (int i = 0; i < 5; ++i) {
    const auto [first, second] = on_each_server(a, other, third, [&] {
      const std::string arg = std::to_string(i);
      const char* values[] = {arg.c_str()};
      PqResult r{PQexecPrepared(a.get(), "add_one", 1, values, nullptr, nullptr, 0)};
      INFO(r.error());
      REQUIRE(r.ok());
      CHECK(r.value() == std::to_string(i + 1));
    });
    CHECK(first != second);
  }

  SECTION("redefining a name fails as PostgreSQL does, and the old one stays") {
    PqResult again{PQprepare(a.get(), "add_one", "select 0", 0, nullptr)};
    CHECK(again.sqlstate() == "42P05");
    CHECK(again.error().find("prepared statement \"add_one\" already exists") != std::string::npos);
    const char* values[] = {"41"};
    PqResult r{PQexecPrepared(a.get(), "add_one", 1, values, nullptr, nullptr, 0)};
    CHECK(r.value() == "42");
  }
  SECTION("unknown names and failed Parses give PostgreSQL's errors, with the client's names") {
    PqResult missing{PQexecPrepared(a.get(), "nope", 0, nullptr, nullptr, nullptr, 0)};
    CHECK(missing.sqlstate() == "26000");
    CHECK(missing.error().find("prepared statement \"nope\" does not exist") != std::string::npos);
    PqResult bad{PQprepare(a.get(), "bad", "selec 1", 0, nullptr)};
    CHECK(bad.sqlstate() == "42601");
    PqResult use_bad{PQexecPrepared(a.get(), "bad", 0, nullptr, nullptr, nullptr, 0)};
    CHECK(use_bad.sqlstate() == "26000");
    CHECK(use_bad.error().find("\"bad\"") != std::string::npos);
    // The name is free again.
    PqResult good{PQprepare(a.get(), "bad", "select 'fine'", 0, nullptr)};
    CHECK(good.ok());
    PqResult use_good{PQexecPrepared(a.get(), "bad", 0, nullptr, nullptr, nullptr, 0)};
    CHECK(use_good.value() == "fine");
  }
  SECTION("DEALLOCATE ALL and DISCARD ALL drop the client's statements") {
    const std::string reset = GENERATE(std::string("deallocate all"), std::string("discard all"));
    REQUIRE(a.exec(reset).ok());
    PqResult gone{PQexecPrepared(a.get(), "add_one", 0, nullptr, nullptr, nullptr, 0)};
    CHECK(gone.sqlstate() == "26000");
    PqResult again{PQprepare(a.get(), "add_one", "select $1::int + 2", 0, nullptr)};
    REQUIRE(again.ok());
    const char* values[] = {"40"};
    PqResult r{PQexecPrepared(a.get(), "add_one", 1, values, nullptr, nullptr, 0)};
    CHECK(r.value() == "42");
  }
  SECTION("SQL DEALLOCATE of a protocol-level statement drops it, as on PostgreSQL") {
    const PqResult dropped = a.exec("deallocate add_one");
    INFO(dropped.error());
    REQUIRE(dropped.ok());
    CHECK(std::string(PQcmdStatus(dropped.get())) == "DEALLOCATE");
    PqResult gone{PQexecPrepared(a.get(), "add_one", 0, nullptr, nullptr, nullptr, 0)};
    CHECK(gone.sqlstate() == "26000");
    const PqResult unknown = a.exec("deallocate add_one");
    CHECK(unknown.sqlstate() == "26000");
    CHECK(unknown.error().find("prepared statement \"add_one\" does not exist") != std::string::npos);
  }
  SECTION("another client's statement of the same name is its own") {
    PqResult theirs{PQprepare(other.get(), "add_one", "select $1::int + 100", 0, nullptr)};
    REQUIRE(theirs.ok());
    const char* values[] = {"1"};
    PqResult mine{PQexecPrepared(a.get(), "add_one", 1, values, nullptr, nullptr, 0)};
    PqResult their_result{PQexecPrepared(other.get(), "add_one", 1, values, nullptr, nullptr, 0)};
    CHECK(mine.value() == "2");
    CHECK(their_result.value() == "101");
  }
  SECTION("a statement whose result type changed is prepared again, invisibly") {
    PostgresServer::instance().execute(
        "drop table if exists txn_shape; create table txn_shape (a int); grant all on txn_shape to app",
        "app");
    PqResult p{PQprepare(a.get(), "shape", "select * from txn_shape", 0, nullptr)};
    REQUIRE(p.ok());
    REQUIRE(PqResult{PQexecPrepared(a.get(), "shape", 0, nullptr, nullptr, nullptr, 0)}.ok());
    PostgresServer::instance().execute("alter table txn_shape add column b int", "app");
    // PostgreSQL answers 0A000 "cached plan must not change result type";
    // pggat prepares the statement again and sends the Bind once more.
    PqResult changed{PQexecPrepared(a.get(), "shape", 0, nullptr, nullptr, nullptr, 0)};
    INFO(changed.error());
    CHECK(changed.ok());
    CHECK(PQnfields(changed.get()) == 2);
    // Inside a transaction block nothing can be sent again: the error shows,
    // as it would on PostgreSQL.
    REQUIRE(a.exec("begin").ok());
    PostgresServer::instance().execute("alter table txn_shape add column c int", "app");
    PqResult in_block{PQexecPrepared(a.get(), "shape", 0, nullptr, nullptr, nullptr, 0)};
    CHECK(in_block.sqlstate() == "0A000");
    REQUIRE(a.exec("rollback").ok());
    PqResult after{PQexecPrepared(a.get(), "shape", 0, nullptr, nullptr, nullptr, 0)};
    INFO(after.error());
    CHECK(after.ok());
    CHECK(PQnfields(after.get()) == 3);
  }
}

TEST_CASE("transaction mode: a cancel reaches the server running the client's query",
          "[transaction]") {
  InProcessPooler pooler(transaction_config());
  PqConnection a(pooler.conninfo("app", "app", "application_name=txn_cancel"));
  REQUIRE(PQsendQuery(a.get(), "select pg_sleep(30)") == 1);
  // Wait until the query runs on a server, then cancel it through pggat.
  pqxx::connection admin{PostgresServer::instance().conninfo("postgres", "postgres-pass", "postgres")};
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    pqxx::nontransaction n(admin);
    if (n.exec("select count(*) from pg_stat_activity where application_name = 'txn_cancel' and "
                 "query = 'select pg_sleep(30)' and state = 'active'")[0][0].as<int>() == 1)
      break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
  const auto started = std::chrono::steady_clock::now();
  CHECK(cancel_and_wait(a) == "57014");
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  CHECK(a.exec("select 1").value() == "1");
}

TEST_CASE("transaction mode: a client leaving mid-transaction leaves nothing behind",
          "[transaction]") {
  PostgresServer::instance().execute(
      "create table if not exists txn_lock (id int primary key); "
      "insert into txn_lock values (1) on conflict do nothing; grant all on txn_lock to app",
      "app");
  InProcessPooler pooler(transaction_config({}, {{"max_connections", 2}}));
  for (int round = 0; round < 10; ++round) {
    {
      RawClient raw("127.0.0.1", pooler.port());
      raw.send_startup("app", "app");
      REQUIRE(raw.read_until_ready());
      pggat::proto::Buffer out;
      pggat::proto::fe::Query{"begin; select * from txn_lock where id = 1 for update"}.encode(out);
      raw.send(out);
      REQUIRE(raw.read_until_ready());
      // Gone without a word, holding a row lock in an open transaction.
    }
    PqConnection b(pooler.conninfo());
    const PqResult r = b.exec("set lock_timeout = '5s'; select id from txn_lock where id = 1 for update");
    INFO(r.error());
    CHECK(r.ok());
  }
}

TEST_CASE("transaction mode: a server killed mid-transaction fails that client only",
          "[transaction]") {
  InProcessPooler pooler(transaction_config({}, {{"max_connections", 2}}));
  PqConnection victim(pooler.conninfo());
  PqConnection bystander(pooler.conninfo());
  REQUIRE(victim.exec("begin").ok());
  const std::string pid = victim.exec("select pg_backend_pid()").value();
  PostgresServer::instance().execute("select pg_terminate_backend(" + pid + ")", "postgres");
  const PqResult failed = victim.exec("select 1");
  CHECK_FALSE(failed.ok());
  // Other clients carry on, and new ones get a fresh server.
  CHECK(bystander.exec("select 2").value() == "2");
  PqConnection next(pooler.conninfo());
  CHECK(next.exec("select 3").value() == "3");
}

// The server's FATAL, said while its client idles in a transaction (the
// relay reads the client alone then), reaches the client by its next
// statement at the latest, and then the client is closed as PostgreSQL
// would close it.
TEST_CASE("transaction mode: a server terminated while its client idles in a transaction: the client "
          "gets its FATAL",
          "[transaction]") {
  InProcessPooler pooler(transaction_config({}, {{"max_connections", 2}}));
  RawClient raw("127.0.0.1", pooler.port());
  raw.send_startup("app", "app");
  REQUIRE(raw.read_until_ready());
  pggat::proto::Buffer out;
  pggat::proto::fe::Query{"begin; select pg_backend_pid()"}.encode(out);
  raw.send(out);
  std::string pid;
  for (;;) {
    const auto m = raw.read();
    REQUIRE(m);
    if (m->type == 'D') pid.assign(reinterpret_cast<const char*>(m->body.data()) + 6, m->body.size() - 6);
    if (m->type == 'Z') break;
  }
  REQUIRE_FALSE(pid.empty());
  PostgresServer::instance().execute("select pg_terminate_backend(" + pid + ")", "postgres");
  pggat::proto::Buffer next;
  pggat::proto::fe::Query{"select 1"}.encode(next);
  raw.send(next);
  const auto error = raw.read_error();
  REQUIRE(error);
  CHECK(error->is_fatal());
  CHECK(error->code == "57P01");  // admin_shutdown
  CHECK(raw.closed());
  PqConnection after(pooler.conninfo());
  CHECK(after.exec("select 2").value() == "2");
}

TEST_CASE("transaction mode: a server that vanishes silently costs the client its transaction, "
          "not its connection",
          "[transaction]") {
  TcpProxy proxy("127.0.0.1", PostgresServer::instance().port());
  InProcessPooler pooler(transaction_config({}, {{"address", proxy.address()}, {"max_connections", 2}}));
  PqConnection a(pooler.conninfo("app", "app", "application_name=txn_vanish"));
  REQUIRE(a.exec("select 1").ok());
  REQUIRE(PQsendQuery(a.get(), "select pg_sleep(30)") == 1);
  pqxx::connection admin{PostgresServer::instance().conninfo("postgres", "postgres-pass", "postgres")};
  REQUIRE(eventually([&] {
    pqxx::nontransaction n(admin);
    return n.exec("select count(*) from pg_stat_activity where application_name = 'txn_vanish' "
                  "and state = 'active'")[0][0].as<int>() == 1;
  }));
  proxy.cut_all();

  PGresult* r = PQgetResult(a.get());
  REQUIRE(r != nullptr);
  CHECK(std::string(PQresultErrorField(r, PG_DIAG_SQLSTATE)) == "08006");
  CHECK(std::string(PQresultErrorMessage(r)).find("lost the connection to server") != std::string::npos);
  PQclear(r);
  while ((r = PQgetResult(a.get())) != nullptr) PQclear(r);
  // The same connection runs its next transaction on a new server.
  CHECK(PQstatus(a.get()) == CONNECTION_OK);
  CHECK(a.exec("select current_setting('application_name')").value() == "txn_vanish");
  CHECK(proxy.accepted() >= 2);
  // The backend whose client vanished is told to stop by PostgreSQL itself;
  // cancel it here so it does not sleep on.
  PostgresServer::instance().execute(
      "select pg_cancel_backend(pid) from pg_stat_activity where query = 'select pg_sleep(30)'",
      "postgres");
}

TEST_CASE("transaction mode: after a storm of clients killed mid-transaction the pool shrinks "
          "back to its minimum",
          "[transaction]") {
  InProcessPooler pooler(transaction_config(
      {{"server_idle_timeout", "1s"}},
      {{"max_connections", 4}, {"min_connections", 1}, {"parameters", {{"application_name", "storm"}}}}));
  pqxx::connection admin{PostgresServer::instance().conninfo("postgres", "postgres-pass", "postgres")};
  auto storm_backends = [&] {
    pqxx::nontransaction n(admin);
    return n.exec("select count(*) from pg_stat_activity where application_name = 'storm'")[0][0]
        .as<int>();
  };
  for (int i = 0; i < 40; ++i) {
    RawClient raw("127.0.0.1", pooler.port());
    raw.send_startup("app", "app");
    REQUIRE(raw.read_until_ready());
    pggat::proto::Buffer out;
    // Killed at different points: in a transaction, mid-query, mid-COPY, mid-pipeline.
    switch (i % 4) {
      case 0:
        pggat::proto::fe::Query{"begin; select 1"}.encode(out);
        raw.send(out);
        REQUIRE(raw.read_until_ready());
        break;
      case 1:
        pggat::proto::fe::Query{"begin; select pg_sleep(0.2)"}.encode(out);
        raw.send(out);
        break;
      case 2:
        pggat::proto::fe::Query{"copy (select 1) to stdout; begin"}.encode(out);
        pggat::proto::fe::Query{"create temp table t (a int); copy t from stdin"}.encode(out);
        raw.send(out);
        break;
      case 3:
        pggat::proto::fe::Parse::encode(out, "", "select 1", {});
        raw.send(out);
        break;
    }
  }
  // Every server went back to the pool clean, and the spare ones close.
  CHECK(eventually([&] { return storm_backends() == 1; }, 20s));
  PqConnection c(pooler.conninfo());
  const PqResult r = c.exec("select current_setting('transaction_isolation'), now() = statement_timestamp()");
  REQUIRE(r.ok());
  CHECK(r.value(0, 1) == "t");  // not inside a leftover transaction
}

TEST_CASE("transaction mode: steady-state prepared traffic sends no Parse to servers",
          "[transaction]") {
  TcpProxy proxy("127.0.0.1", PostgresServer::instance().port());
  InProcessPooler pooler(transaction_config({}, {{"address", proxy.address()}, {"max_connections", 2}}));
  PqConnection a(pooler.conninfo());
  PqConnection b(pooler.conninfo());
  PqConnection x(pooler.conninfo());
  PqConnection y(pooler.conninfo());
  for (PqConnection* c : {&a, &b})
    REQUIRE(PqResult{PQprepare(c->get(), "q", "select $1::int * 3", 0, nullptr)}.ok());
  auto run = [](PqConnection& c) {
    const char* values[] = {"14"};
    PqResult r{PQexecPrepared(c.get(), "q", 1, values, nullptr, nullptr, 0)};
    REQUIRE(r.ok());
    CHECK(r.value() == "42");
  };
  // Warm up: both clients' statement (the same text) used on both servers.
  on_each_server(a, x, y, [&] { run(a); });
  on_each_server(b, x, y, [&] { run(b); });
  const long parses = proxy.sent('P');
  const long binds = proxy.sent('B');
  for (int i = 0; i < 10; ++i) {
    on_each_server(a, x, y, [&] { run(a); });
    on_each_server(b, x, y, [&] { run(b); });
  }
  CHECK(proxy.sent('B') - binds == 40);
  CHECK(proxy.sent('P') == parses);  // no Parse and so no extra round trip
  CHECK(parses <= 4);                // at most once per client per server, at first use
}

TEST_CASE("transaction mode: an idle client is parked and keeps its state; one in a transaction is not",
          "[transaction][parking]") {
  InProcessPooler pooler(transaction_config());
  PqConnection in_tx(pooler.conninfo());
  PqConnection a(pooler.conninfo());
  // Both are parked once greeted: nothing sent yet.
  REQUIRE(eventually([&] { return pooler.stats().clients_parked == 2; }));
  REQUIRE(in_tx.exec("begin").ok());
  REQUIRE(a.exec("set application_name = 'parked one'").ok());
  REQUIRE(a.exec("prepare p as select 40 + $1::int").ok());
  PqResult prepared{PQprepare(a.get(), "q", "select $1::int * 3", 0, nullptr)};
  REQUIRE(prepared.ok());
  // Busy clients wait in a coroutine; the sweep parks a again after a second
  // or two. in_tx waited as long, inside its transaction: it stays unparked.
  REQUIRE(eventually([&] { return pooler.stats().clients_parked == 1; }));
  CHECK(setting(a, "application_name") == "parked one");
  CHECK(a.exec("execute p(2)").value() == "42");
  const char* values[] = {"14"};
  PqResult r{PQexecPrepared(a.get(), "q", 1, values, nullptr, nullptr, 0)};
  REQUIRE(r.ok());
  CHECK(r.value() == "42");
  REQUIRE(in_tx.exec("create temp table t (v int)").ok());
  REQUIRE(in_tx.exec("commit").ok());
  REQUIRE(eventually([&] { return pooler.stats().clients_parked == 2; }));
  CHECK(pooler.stats().clients == 2);
}

TEST_CASE("transaction mode: parked clients that leave, vanish or send garbage are closed",
          "[transaction][parking]") {
  InProcessPooler pooler(transaction_config());
  auto greeted = [&] {
    auto c = std::make_unique<RawClient>("127.0.0.1", pooler.port());
    c->send_startup("app", "app");
    REQUIRE(c->read_until_ready());
    return c;
  };
  auto terminated = greeted();
  auto vanished = greeted();
  auto garbage = greeted();
  PqConnection worker(pooler.conninfo());
  REQUIRE(worker.exec("select 1").ok());
  REQUIRE(eventually([&] { return pooler.stats().clients_parked == 4; }));
  pggat::proto::Buffer bye;
  pggat::proto::fe::Terminate{}.encode(bye);
  terminated->send(bye);
  CHECK(terminated->closed());
  vanished.reset();
  // A message type no client sends: PostgreSQL's answer is a protocol error.
  const pggat::proto::Buffer bad{std::byte{'!'}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{4}};
  garbage->send(bad);
  CHECK(garbage->read_error().has_value());
  CHECK(garbage->closed());
  REQUIRE(eventually([&] { return pooler.stats().clients == 1; }));
  CHECK(worker.exec("select 2").value() == "2");
}

// A client may half-close after its last query: its end of file then comes
// with the query, read together, and raises no event of its own. Between
// units a busy client's read waits for epoll at once
// (Stream::receive_until_parked); the sweep's parking finds the end.
TEST_CASE("transaction mode: a client that half-closes after its queries gets its answers and is closed",
          "[transaction][parking]") {
  InProcessPooler pooler(transaction_config());
  RawClient raw("127.0.0.1", pooler.port());
  raw.send_startup("app", "app");
  REQUIRE(raw.read_until_ready());
  pggat::proto::Buffer query;
  pggat::proto::fe::Query{"select 1"}.encode(query);
  raw.send(query);  // wakes it from its parking; it then waits between units
  REQUIRE(raw.read_until_ready());
  raw.send(query);
  raw.shutdown_write();  // right behind the query
  const auto answer = raw.read();
  REQUIRE(answer);
  CHECK(answer->type == 'T');  // the row's description: the query ran
  REQUIRE(raw.read_until_ready());
  CHECK(raw.closed(10s));
  REQUIRE(eventually([&] { return pooler.stats().clients == 0; }));
  PqConnection other(pooler.conninfo());
  CHECK(other.exec("select 2").value() == "2");
}

// Inside a transaction nothing parks the client, and its reads wait for
// epoll at once after a short read (Stream::set_watched_reads): the App's
// sweep finds an end of file that came with its last statement. Here the
// statement and the end come while the server works on the one before, so
// one read takes the statement and leaves the end behind it, unseen.
TEST_CASE("transaction mode: a client that half-closes inside a transaction gets its answer, is closed and "
          "its server goes back",
          "[transaction][parking]") {
  InProcessPooler pooler(transaction_config({}, {{"max_connections", 1}}));
  RawClient raw("127.0.0.1", pooler.port());
  raw.send_startup("app", "app");
  REQUIRE(raw.read_until_ready());
  pggat::proto::Buffer begin;
  pggat::proto::fe::Query{"begin; select 1"}.encode(begin);
  raw.send(begin);
  REQUIRE(raw.read_until_ready());
  pggat::proto::Buffer slow;
  pggat::proto::fe::Query{"select pg_sleep(0.5) as half_close_probe"}.encode(slow);
  raw.send(slow);
  pqxx::connection admin{PostgresServer::instance().conninfo("postgres", "postgres-pass", "postgres")};
  REQUIRE(eventually([&] {
    pqxx::nontransaction n(admin);
    return n.exec("select count(*) from pg_stat_activity where query like '%half_close_probe%' and "
                  "state = 'active' and pid <> pg_backend_pid()")[0][0]
               .as<int>() == 1;
  }));
  pggat::proto::Buffer query;
  pggat::proto::fe::Query{"select 2"}.encode(query);
  raw.send(query);
  raw.shutdown_write();  // right behind the statement, inside the transaction
  REQUIRE(raw.read_until_ready());  // pg_sleep's
  const auto answer = raw.read();
  REQUIRE(answer);
  CHECK(answer->type == 'T');  // the row's description: the statement ran
  REQUIRE(raw.read_until_ready());
  CHECK(raw.closed(10s));
  REQUIRE(eventually([&] { return pooler.stats().clients == 0; }));
  // The only server was the client's: rolled back and lent again.
  PqConnection other(pooler.conninfo());
  CHECK(other.exec("select 3").value() == "3");
}

TEST_CASE("transaction mode: parked clients on every thread, light and deep, are served and closed when pggat stops",
          "[transaction][parking]") {
  nlohmann::json config = transaction_config();
  config["threads"] = 2;
  config["thread_fill"] = 0;  // round robin: clients on both threads
  InProcessPooler pooler(config);
  std::vector<std::unique_ptr<RawClient>> clients;
  auto greet = [&](int count) {
    for (int i = 0; i < count; ++i) {
      clients.push_back(std::make_unique<RawClient>("127.0.0.1", pooler.port()));
      clients.back()->send_startup("app", "app");
      REQUIRE(clients.back()->read_until_ready());
    }
  };
  greet(6);
  PqConnection busy(pooler.conninfo());
  REQUIRE(busy.exec("select 1").ok());
  // The App's sweep parks `busy` again after a second or more of waiting:
  // by then the lots' sweeps (every 50 ms) have moved the six out of the
  // reactor. Two more are greeted last, parked light still at the stop.
  REQUIRE(eventually([&] { return pooler.stats().clients_parked == 7; }));
  // One of the six, woken out of its lot's epoll set, is served as ever.
  pggat::proto::Buffer query;
  pggat::proto::fe::Query{"select 1"}.encode(query);
  clients[0]->send(query);
  REQUIRE(clients[0]->read_until_ready());
  greet(2);
  REQUIRE(eventually([&] { return pooler.stats().clients_parked == 9; }));
  // No grace: every session is closed on its own thread, parked ones
  // included, and the App stops (stop waits for that).
  pooler.stop(std::chrono::nanoseconds(0));
  for (auto& c : clients) CHECK(c->closed());
}

TEST_CASE("transaction mode: an App destroyed with clients parked light and deep closes them all",
          "[transaction][parking]") {
  // ~App with clients still there is the embedder's mistake (docs/embedding.md:
  // destroy it after on_stopped), but it must close them, not crash or hang.
  pggat::Registry registry;
  pggat::register_builtins(registry);
  nlohmann::json config = transaction_config();
  config["threads"] = 2;
  config["thread_fill"] = 0;  // round robin: clients on both threads
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  auto app = std::make_unique<pggat::App>(io.get_executor(), pggat::load_config(config, registry));
  app->start();
  const std::string address = app->bound_addresses().front();
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  std::thread loop([&] { io.run(); });
  auto parked = [&] {
    std::promise<std::uint64_t> count;
    asio::post(io, [&] { count.set_value(app->stats().clients_parked); });
    return count.get_future().get();
  };
  std::vector<std::unique_ptr<RawClient>> clients;
  auto greet = [&](int count) {
    for (int i = 0; i < count; ++i) {
      clients.push_back(std::make_unique<RawClient>("127.0.0.1", port));
      clients.back()->send_startup("app", "app");
      REQUIRE(clients.back()->read_until_ready());
    }
  };
  greet(4);
  {
    PqConnection busy("host=127.0.0.1 port=" + std::to_string(port) + " user=app dbname=app");
    REQUIRE(busy.exec("select 1").ok());
    // Parked again by the App's sweep, a second or more on: the four are deep by then.
    REQUIRE(eventually([&] { return parked() == 5; }));
  }
  greet(2);  // light
  REQUIRE(eventually([&] { return parked() == 6; }));
  work.reset();
  io.stop();
  loop.join();
  app.reset();  // no thread runs: the clients are closed, the extra thread's with its io_context
  for (auto& c : clients) CHECK(c->closed());
  // What the host's io_context still holds for its clients runs or goes with it.
  io.restart();
  io.run();
}

TEST_CASE("transaction mode: a parked client's traffic is counted in full", "[transaction][parking]") {
  InProcessPooler pooler(transaction_config());
  RawClient client("127.0.0.1", pooler.port());
  client.send_startup("app", "app");
  REQUIRE(client.read_until_ready());
  REQUIRE(eventually([&] { return pooler.stats().clients_parked == 1; }));
  auto received = [&] {
    std::uint64_t sum = 0;
    for (const pggat::PoolSnapshot& p : pooler.pools()) sum += p.stats.bytes_received;
    return sum;
  };
  const std::uint64_t before = received();
  pggat::proto::Buffer query;
  pggat::proto::fe::Query{"select 1"}.encode(query);
  // Each query wakes a parked client: what it sent is read before the unit
  // starts, and counted all the same.
  client.send(query);
  REQUIRE(client.read_until_ready());
  REQUIRE(eventually([&] { return pooler.stats().clients_parked == 1; }));
  client.send(query);
  REQUIRE(client.read_until_ready());
  CHECK(eventually([&] { return received() - before == 2 * query.size(); }));
}

namespace {

// The first column of each row up to ReadyForQuery, and "connection ended"
// last when the connection ended before it.
std::vector<std::string> first_columns(RawClient& client) {
  std::vector<std::string> values;
  while (auto m = client.read()) {
    if (m->type == 'Z') return values;
    if (m->type != 'D' || m->body.size() < 6) continue;
    const auto* b = reinterpret_cast<const unsigned char*>(m->body.data());
    const std::size_t length = (std::size_t{b[2]} << 24) | (std::size_t{b[3]} << 16) | (std::size_t{b[4]} << 8) | b[5];
    values.emplace_back(reinterpret_cast<const char*>(b + 6), std::min(length, m->body.size() - 6));
  }
  values.emplace_back("connection ended");
  return values;
}

}  // namespace

TEST_CASE("transaction mode: a busy client's next messages are read whole, however long and however many at once",
          "[transaction][parking]") {
  InProcessPooler pooler(transaction_config());
  RawClient client("127.0.0.1", pooler.port());
  client.send_startup("app", "app");
  REQUIRE(client.read_until_ready());
  auto query = [](const std::string& sql) {
    pggat::proto::Buffer b;
    pggat::proto::fe::Query{sql}.encode(b);
    return b;
  };
  // Woken out of the parking lot; it then waits between units with a read
  // into a small buffer of its coroutine's (512 bytes).
  client.send(query("select 1"));
  REQUIRE(first_columns(client) == std::vector<std::string>{"1"});
  // Longer than that buffer: the rest is read on in the pump.
  const std::string long_text(5000, 'x');
  client.send(query("select length('" + long_text + "')"));
  CHECK(first_columns(client) == std::vector<std::string>{"5000"});
  // Three queries in one write, the last one past the buffer's end: three answers.
  pggat::proto::Buffer three;
  for (const std::string& sql : std::vector<std::string>{"select 2", "select 3", "select length('" + long_text + "') + 1"}) {
    const auto one = query(sql);
    three.insert(three.end(), one.begin(), one.end());
  }
  client.send(three);
  CHECK(first_columns(client) == std::vector<std::string>{"2"});
  CHECK(first_columns(client) == std::vector<std::string>{"3"});
  CHECK(first_columns(client) == std::vector<std::string>{"5001"});
  // The client is still in its wait, not parked: pggat stays usable for it.
  client.send(query("select 4"));
  CHECK(first_columns(client) == std::vector<std::string>{"4"});
}

TEST_CASE("transaction mode: a client like the last one is greeted without a server while the servers are unchanged",
          "[transaction][startup]") {
  InProcessPooler pooler(transaction_config());
  auto acquires = [&] { return pooler.pools().at(0).stats.acquires; };
  auto greeted_without_server = [&](const std::string& extra) {
    const std::uint64_t before = acquires();
    PqConnection c(pooler.conninfo("app", "app", extra));
    return acquires() == before;
  };
  // The first clients are greeted through a server (dialled, then set to the
  // client's application_name, which it reports: a change); one like them
  // after that is told the same without one.
  REQUIRE(eventually([&] { return greeted_without_server("application_name=greeter"); }));
  {
    const std::uint64_t before = acquires();
    PqConnection c(pooler.conninfo("app", "app", "application_name=greeter"));
    CHECK(acquires() == before);
    CHECK(std::string(PQparameterStatus(c.get(), "application_name")) == "greeter");
    CHECK(std::string(PQparameterStatus(c.get(), "server_encoding")) ==
          PostgresServer::instance().execute("show server_encoding")[0][0].as<std::string>());
    // Its servers get its parameters all the same.
    CHECK(c.exec("show application_name").value() == "greeter");
    // A parameter a server reports changed: the pool's servers are not as
    // they were, so the next client like it is greeted through a server.
    REQUIRE(c.exec("set application_name = 'renamed'").ok());
  }
  CHECK_FALSE(greeted_without_server("application_name=greeter"));
  REQUIRE(eventually([&] { return greeted_without_server("application_name=greeter"); }));
  // Another client is greeted through a server; a bad value still fails at
  // startup, as PostgreSQL refuses it.
  CHECK_FALSE(greeted_without_server("application_name=other"));
  const std::string error = connection_error(pooler.conninfo("app", "app", "options='-c statement_timeout=lots'"));
  CHECK(error.find("invalid value for parameter \"statement_timeout\"") != std::string::npos);
}
