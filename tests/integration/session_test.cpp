// Session pooling, client's view: queries, errors, transactions, COPY, notices, NOTIFY, big values.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "support/pooler.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"

using namespace pggat::test;

namespace {

// One pooler for the cases in this file that do not need special settings.
InProcessPooler& shared_pooler() {
  static InProcessPooler pooler(session_config());
  return pooler;
}

}  // namespace

TEST_CASE("simple, parameterized and prepared queries pass through", "[session]") {
  pqxx::connection c(shared_pooler().conninfo());
  pqxx::work w(c);
  const auto r = w.exec("select 1 + 1, current_user, current_database()");
  CHECK(r[0][0].as<int>() == 2);
  CHECK(r[0][1].as<std::string>() == "app");
  CHECK(r[0][2].as<std::string>() == "app");
  CHECK(w.exec_params("select $1::int + 1", 41)[0][0].as<int>() == 42);
  c.prepare("concat", "select $1::text || $2::text");
  CHECK(w.exec_prepared("concat", "pg", "gat")[0][0].as<std::string>() == "pggat");
  const auto multi = w.exec("select g from generate_series(1, 1000) g");
  CHECK(multi.size() == 1000);
  CHECK(multi[999][0].as<int>() == 1000);
}

TEST_CASE("errors keep their SQLSTATE and the session carries on", "[session]") {
  pqxx::connection c(shared_pooler().conninfo());
  std::string state;
  try {
    pqxx::nontransaction n(c);
    n.exec("select 1/0");
  } catch (const pqxx::sql_error& e) {
    state = e.sqlstate();
  }
  CHECK(state == "22012");
  try {
    pqxx::nontransaction n(c);
    n.exec("selec 1");
  } catch (const pqxx::sql_error& e) {
    state = e.sqlstate();
  }
  CHECK(state == "42601");
  pqxx::nontransaction n(c);
  CHECK(n.exec("select 7")[0][0].as<int>() == 7);
}

TEST_CASE("transactions commit and roll back", "[session]") {
  PostgresServer::instance().execute("create table if not exists tx_test (v int)", "app");
  PostgresServer::instance().execute("grant all on tx_test to app", "app");
  PostgresServer::instance().execute("truncate tx_test", "app");
  pqxx::connection c(shared_pooler().conninfo());
  {
    pqxx::work w(c);
    w.exec("insert into tx_test values (1), (2)");
    // Destroyed without commit: rolled back.
  }
  {
    pqxx::work w(c);
    CHECK(w.exec("select count(*) from tx_test")[0][0].as<int>() == 0);
    const auto r = w.exec("insert into tx_test values (3)");
    CHECK(r.affected_rows() == 1);
    w.commit();
  }
  CHECK(PostgresServer::instance().execute("select count(*) from tx_test", "app")[0][0].as<int>() == 1);

  // An error aborts the transaction until ROLLBACK, as on PostgreSQL itself.
  PqConnection pq(shared_pooler().conninfo());
  REQUIRE(pq.exec("begin").ok());
  CHECK(pq.exec("select 1/0").sqlstate() == "22012");
  CHECK(pq.exec("select 1").sqlstate() == "25P02");
  REQUIRE(pq.exec("rollback").ok());
  CHECK(pq.exec("select 5").value() == "5");
}

TEST_CASE("notices reach the client", "[session]") {
  PqConnection pq(shared_pooler().conninfo());
  REQUIRE(pq.exec("do $$ begin raise notice 'hello %', 42; end $$").ok());
  REQUIRE(pq.notices().size() == 1);
  CHECK(pq.notices()[0].find("hello 42") != std::string::npos);
}

TEST_CASE("LISTEN/NOTIFY between two pooled sessions", "[session]") {
  PqConnection listener(shared_pooler().conninfo());
  PqConnection notifier(shared_pooler().conninfo());
  REQUIRE(listener.exec("listen pggat_channel").ok());
  REQUIRE(notifier.exec("notify pggat_channel, 'payload 1'").ok());
  CHECK(listener.wait_notification(std::chrono::seconds(10)) == "pggat_channel:payload 1");
  // A notification arriving while the client sits idle is pushed to it too.
  REQUIRE(notifier.exec("select pg_notify('pggat_channel', 'payload 2')").ok());
  CHECK(listener.wait_notification(std::chrono::seconds(10)) == "pggat_channel:payload 2");
}

TEST_CASE("20 MB values travel both ways", "[session]") {
  constexpr std::size_t size = 20 * 1024 * 1024;
  pqxx::connection c(shared_pooler().conninfo());
  pqxx::nontransaction n(c);
  const auto out = n.exec("select repeat('ab', " + std::to_string(size / 2) + ")");
  const std::string value = out[0][0].as<std::string>();
  CHECK(value.size() == size);
  CHECK(value.substr(0, 4) == "abab");

  std::string big(size, 'x');
  for (std::size_t i = 0; i < size; i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  const auto in = n.exec_params("select length($1), md5($1)", big);
  CHECK(in[0][0].as<std::size_t>() == size);
  const auto direct = PostgresServer::instance().execute(
      "select md5(string_agg(case when i % 4096 = 0 then chr(97 + (i / 4096) % 26) else 'x' end, '' "
      "order by i)) from generate_series(0, " +
          std::to_string(size - 1) + ") i",
      "app");
  CHECK(in[0][1].as<std::string>() == direct[0][0].as<std::string>());
}

TEST_CASE("COPY IN and COPY OUT", "[session]") {
  PostgresServer::instance().execute("create table if not exists copy_test (id int, s text)", "app");
  PostgresServer::instance().execute("grant all on copy_test to app", "app");
  PostgresServer::instance().execute("truncate copy_test", "app");
  PqConnection pq(shared_pooler().conninfo());
  REQUIRE(pq.exec("copy copy_test from stdin").status() == PGRES_COPY_IN);
  std::string chunk;
  for (int i = 0; i < 10000; ++i) {
    chunk += std::to_string(i) + "\trow " + std::to_string(i) + "\n";
    if (chunk.size() > 60000) {
      REQUIRE(PQputCopyData(pq.get(), chunk.data(), static_cast<int>(chunk.size())) == 1);
      chunk.clear();
    }
  }
  REQUIRE(PQputCopyData(pq.get(), chunk.data(), static_cast<int>(chunk.size())) == 1);
  REQUIRE(PQputCopyEnd(pq.get(), nullptr) == 1);
  PqResult done(PQgetResult(pq.get()));
  CHECK(done.status() == PGRES_COMMAND_OK);
  CHECK(std::string(PQcmdTuples(done.get())) == "10000");
  while (PGresult* r = PQgetResult(pq.get())) PQclear(r);

  REQUIRE(pq.exec("copy (select id, s from copy_test order by id) to stdout").status() == PGRES_COPY_OUT);
  int lines = 0;
  std::string last;
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(pq.get(), &buf, 0);
    if (n < 0) break;
    last.assign(buf, static_cast<std::size_t>(n));
    PQfreemem(buf);
    ++lines;
  }
  CHECK(lines == 10000);
  CHECK(last == "9999\trow 9999\n");
  PqResult copied(PQgetResult(pq.get()));
  CHECK(copied.status() == PGRES_COMMAND_OK);
  while (PGresult* r = PQgetResult(pq.get())) PQclear(r);

  // A COPY the client aborts ends in an error and leaves the session usable.
  REQUIRE(pq.exec("copy copy_test from stdin").status() == PGRES_COPY_IN);
  REQUIRE(PQputCopyData(pq.get(), "1\tx\n", 4) == 1);
  REQUIRE(PQputCopyEnd(pq.get(), "changed my mind") == 1);
  PqResult aborted(PQgetResult(pq.get()));
  CHECK(aborted.sqlstate() == "57014");
  while (PGresult* r = PQgetResult(pq.get())) PQclear(r);
  CHECK(pq.exec("select count(*) from copy_test").value() == "10000");
}

TEST_CASE("startup parameters reach the server", "[session]") {
  pqxx::connection c(shared_pooler().conninfo(
      "app", "app", "application_name=pggat-test options='-c statement_timeout=1234 -c search_path=foo,public'"));
  pqxx::nontransaction n(c);
  CHECK(n.exec("show application_name")[0][0].as<std::string>() == "pggat-test");
  CHECK(n.exec("show statement_timeout")[0][0].as<std::string>() == "1234ms");
  CHECK(n.exec("select current_setting('search_path')")[0][0].as<std::string>() == "foo,public");

  // The client's ParameterStatus says what the server has.
  PqConnection pq(shared_pooler().conninfo("app", "app", "application_name=pggat-status"));
  CHECK(std::string(PQparameterStatus(pq.get(), "application_name")) == "pggat-status");
  CHECK(std::string(PQparameterStatus(pq.get(), "server_encoding")) ==
        PostgresServer::instance().execute("show server_encoding")[0][0].as<std::string>());

  // An invalid value is refused the way PostgreSQL refuses it at startup.
  const std::string error = connection_error(shared_pooler().conninfo("app", "app", "options='-c statement_timeout=lots'"));
  CHECK(error.find("invalid value for parameter \"statement_timeout\"") != std::string::npos);
}

TEST_CASE("a FunctionCall (fast path) is relayed", "[session]") {
  PqConnection pq(shared_pooler().conninfo());
  const int oid = std::stoi(pq.exec("select 'int4pl'::regproc::oid").value());
  int a = 2, b = 3;
  PQArgBlock args[2];
  args[0].len = 4;
  args[0].isint = 1;
  args[0].u.integer = a;
  args[1].len = 4;
  args[1].isint = 1;
  args[1].u.integer = b;
  int result = 0, result_len = 0;
  PqResult r(PQfn(pq.get(), oid, &result, &result_len, 1, args, 2));
  CHECK(r.status() == PGRES_COMMAND_OK);
  CHECK(result == 5);
}

TEST_CASE("a cancel request stops the query running on the client's server", "[session][cancel]") {
  PqConnection pq(shared_pooler().conninfo());
  std::atomic<bool> sent{false};
  std::thread canceller([&] {
    // Wait until the query really runs on the server, then cancel it through pggat.
    for (int i = 0; i < 200; ++i) {
      const auto r = PostgresServer::instance().execute(
          "select count(*) from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'");
      if (r[0][0].as<int>() > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    PGcancel* cancel = PQgetCancel(pq.get());
    char err[256];
    sent = PQcancel(cancel, err, sizeof err) == 1;
    PQfreeCancel(cancel);
  });
  const auto start = std::chrono::steady_clock::now();
  const PqResult r = pq.exec("select pg_sleep(30)");
  const auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  CHECK(sent);
  CHECK(r.sqlstate() == "57014");
  CHECK(took < std::chrono::seconds(10));
  CHECK(pq.exec("select 1").value() == "1");
}
