// pggat as users run it: the `pggat` binary (and the embedding examples) as a
// child process with a config file, driven by real client programs — psql,
// pgbench, libpq/libpqxx, psycopg 3 and asyncpg.
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "pggat/version.hpp"
#include "support/client_programs.hpp"
#include "support/pggat_process.hpp"
#include "support/ports.hpp"
#include "support/postgres_server.hpp"

#ifndef PGGAT_BINARY
#error "PGGAT_BINARY must name the built pggat binary (set in tests/integration/meson.build)"
#endif

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using pggat::test::Clock;
using pggat::test::pg_program;
using pggat::test::processed_line;
using pggat::test::psql;
using pggat::test::run_client;
using pggat::test::run_pgbench;
using pggat::test::eventually;
using pggat::test::PggatProcess;
using pggat::test::PostgresServer;
using pggat::test::run_program;
using pggat::test::RunResult;
using pggat::test::TempDir;

const std::string pggat_binary = PGGAT_BINARY;
// Debian's python with python3-psycopg and python3-asyncpg, not whatever
// python3 comes first in PATH (a pyenv one has neither).
const std::string python = "/usr/bin/python3";

std::string tcp_conninfo(std::uint16_t port, const std::string& extra = "") {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=app dbname=app" +
         (extra.empty() ? "" : " " + extra);
}

// The example config with this run's addresses: TCP on 127.0.0.1:port,
// the unix socket in <dir>/pggat, the recipe at the test PostgreSQL.
json session_config(std::uint16_t port, const std::string& socket_dir) {
  json config =
      json::parse(pggat::test::read_file(pggat::test::source_path("examples/session.json")));
  pggat::test::point_config_at(config, port, socket_dir, PostgresServer::instance().address());
  return config;
}

// pggat run with the example config, in a temp dir of its own.
struct RunningPggat {
  TempDir dir;
  std::unique_ptr<PggatProcess> pggat;

  explicit RunningPggat(const std::function<void(json&)>& tweak = {}) {
    (void)PostgresServer::instance();  // started before pggat dials it
    pggat = pggat::test::start_pggat(pggat_binary, dir, [&](std::uint16_t port) {
      json config = session_config(port, socket_dir());
      if (tweak) tweak(config);
      return config;
    });
  }
  [[nodiscard]] std::uint16_t port() const { return pggat->port(); }
  [[nodiscard]] std::string socket_dir() const { return dir / "pggat"; }
  [[nodiscard]] std::string socket_path() const {
    return socket_dir() + "/.s.PGSQL." + std::to_string(port());
  }
  [[nodiscard]] std::string conninfo(const std::string& extra = "") const {
    return tcp_conninfo(port(), extra);
  }
  // A client's run and pggat's log as it is now, for failure messages.
  [[nodiscard]] std::string with_log(const RunResult& r) const {
    return r.describe() + "\n--- pggat log ---\n" + pggat->log();
  }
};

// Count of rows in table, asked of PostgreSQL directly (not through pggat).
long direct_count(const std::string& table, const std::string& where = "true") {
  return PostgresServer::instance()
      .execute("SELECT count(*) FROM " + table + " WHERE " + where, "app")[0][0]
      .as<long>();
}

// Backends of user app in state `state` running exactly `query`, asked directly.
long backends_running(const std::string& query, const std::string& state = "active") {
  pqxx::connection c{PostgresServer::instance().conninfo("postgres", "postgres-pass", "postgres")};
  pqxx::nontransaction work{c};
  const std::string sql =
      "SELECT count(*) FROM pg_stat_activity"
      " WHERE usename = 'app' AND state = $1 AND query = $2";
  return work.exec_params1(sql, state, query)[0].as<long>();
}

using PgConn = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

PgConn pq_connect(const std::string& conninfo) {
  PgConn conn{PQconnectdb((conninfo + " connect_timeout=10").c_str()), &PQfinish};
  REQUIRE(conn != nullptr);
  INFO(PQerrorMessage(conn.get()));
  REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
  return conn;
}

// The next result of a query sent with PQsendQuery, waiting up to the
// deadline; null when it did not come (or the connection failed).
PgResult pq_next_result(PGconn* conn, Clock::time_point deadline) {
  while (PQisBusy(conn) != 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return {nullptr, &PQclear};
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return {nullptr, &PQclear};
    if (ready > 0 && PQconsumeInput(conn) == 0) break;  // PQgetResult reports the failure
  }
  return {PQgetResult(conn), &PQclear};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

// --- 1. pggat run with the config, real clients --------------------

TEST_CASE("pggat run: psql over TCP and over the unix socket", "[cli]") {
  RunningPggat p;
  const RunResult tcp = psql(p.conninfo(), "select current_user, 40+2");
  INFO(p.with_log(tcp));
  CHECK(tcp.ok());
  CHECK(tcp.out == "app|42\n");

  const RunResult unix_socket =
      psql("host=" + p.socket_dir() + " port=" + std::to_string(p.port()) + " user=app dbname=app",
           "select current_user, 40+2, inet_client_addr() is null");
  INFO(p.with_log(unix_socket));
  CHECK(unix_socket.ok());
  // pggat dials PostgreSQL over TCP whichever way the client came in.
  CHECK(unix_socket.out == "app|42|f\n");

  // A database no route matches is refused with PostgreSQL's own wording.
  const RunResult unrouted = psql(tcp_conninfo(p.port()) + " dbname=postgres", "select 1");
  INFO(p.with_log(unrouted));
  CHECK(unrouted.status.code() == 2);
  CHECK(contains(unrouted.err, "database \"postgres\" does not exist"));

  CHECK(p.pggat->stop().describe() == "exit 0");
}

TEST_CASE("pggat run: pgbench initialises and runs select-only and tpcb-like", "[cli]") {
  RunningPggat p;
  auto pgbench = [&](std::vector<std::string> args) { return run_pgbench(p.port(), args); };

  const RunResult init = pgbench({"-i", "-s", "1"});
  INFO(p.with_log(init));
  REQUIRE(init.ok());
  CHECK(direct_count("pgbench_accounts") == 100000);
  CHECK(direct_count("pgbench_branches") == 1);

  const RunResult select_only = pgbench({"-c", "8", "-j", "2", "-t", "200", "-S"});
  INFO(p.with_log(select_only));
  CHECK(select_only.ok());
  CHECK(processed_line(select_only.out) == "number of transactions actually processed: 1600/1600");
  CHECK(contains(select_only.out, "number of failed transactions: 0 "));
  CHECK(contains(select_only.out, "number of clients: 8"));

  const RunResult tpcb = pgbench({"-c", "5", "-t", "100"});
  INFO(p.with_log(tpcb));
  CHECK(tpcb.ok());
  CHECK(contains(tpcb.out, "transaction type: <builtin: TPC-B (sort of)>"));
  CHECK(processed_line(tpcb.out) == "number of transactions actually processed: 500/500");
  CHECK(contains(tpcb.out, "number of failed transactions: 0 "));
  // Every transaction really committed: each one adds one history row.
  CHECK(direct_count("pgbench_history") == 500);

  CHECK(p.pggat->stop().describe() == "exit 0");
}

TEST_CASE("pggat run: libpqxx commits and rolls back", "[cli]") {
  RunningPggat p;
  pqxx::connection conn{p.conninfo("connect_timeout=10")};
  {
    pqxx::work work{conn};
    work.exec("DROP TABLE IF EXISTS cli_pqxx");
    work.exec("CREATE TABLE cli_pqxx (id int PRIMARY KEY, note text)");
    work.commit();
  }
  {
    pqxx::work work{conn};
    work.exec_params("INSERT INTO cli_pqxx VALUES ($1, $2)", 1, "one");
    work.exec_params("INSERT INTO cli_pqxx VALUES ($1, $2)", 2, "two");
    work.commit();
  }
  {
    pqxx::work work{conn};
    work.exec_params("INSERT INTO cli_pqxx VALUES ($1, $2)", 3, "three");
    CHECK(work.exec1("SELECT count(*) FROM cli_pqxx")[0].as<int>() == 3);
    work.abort();
  }
  conn.prepare("note_of", "SELECT note FROM cli_pqxx WHERE id = $1");
  {
    pqxx::read_transaction work{conn};
    CHECK(work.exec_prepared1("note_of", 2)[0].as<std::string>() == "two");
    CHECK(work.exec_prepared("note_of", 3).empty());
    CHECK(work.exec1("SELECT count(*) FROM cli_pqxx")[0].as<int>() == 2);
  }
  // PostgreSQL itself holds exactly the committed rows.
  CHECK(direct_count("cli_pqxx") == 2);
  CHECK(direct_count("cli_pqxx", "id = 3") == 0);
}

TEST_CASE("pggat run: psycopg 3 with parameters, prepare=True and transactions", "[cli]") {
  RunningPggat p;
  const RunResult r =
      run_client({python, pggat::test::source_path("tests/integration/clients/psycopg_client.py"),
                  p.conninfo(), "cli_psycopg"});
  INFO(p.with_log(r));
  CHECK(r.ok());
  CHECK(r.out ==
        "user: ('app', 'app')\n"
        "params: (42, 'hi!')\n"
        "prepared: [0, 2, 4, 6]\n"
        "prepared statements on the server: 1\n"
        "binary: (1099511627776, 'binary')\n"
        "in transaction: INTRANS\n"
        "after rollback: IDLE\n"
        "rows: [(1, 'one'), (2, 'two'), (3, 'three')]\n"
        "second connection: 3\n"
        "psycopg OK\n");
  CHECK(direct_count("cli_psycopg") == 3);
}

TEST_CASE("pggat run: asyncpg with prepared statements, fetch and transactions", "[cli]") {
  RunningPggat p;
  const RunResult r =
      run_client({python, pggat::test::source_path("tests/integration/clients/asyncpg_client.py"),
                  "127.0.0.1", std::to_string(p.port()), "cli_asyncpg"});
  INFO(p.with_log(r));
  CHECK(r.ok());
  CHECK(r.out ==
        "user: ('app', 'app')\n"
        "params: 42\n"
        "prepared fetch: [(1, 10), (2, 20), (3, 30)]\n"
        "prepared again: [(1, 7), (2, 14)]\n"
        "prepared fetchval: 42\n"
        "cursor: [1, 2, 3, 4, 5, 6, 7]\n"
        "in transaction: True\n"
        "after rollback: False\n"
        "rows: [(1, 'one'), (2, 'two'), (3, 'three')]\n"
        "second connection: 3\n"
        "asyncpg OK\n");
  CHECK(direct_count("cli_asyncpg") == 3);
}

// --- transaction pooling: the same clients over shared servers ---------------

// The example transaction-mode config pointed at this run's addresses.
void use_transaction_example(json& config) {
  const json session = config;
  config = json::parse(pggat::test::read_file(pggat::test::source_path("examples/transaction.json")));
  config["servers"][0]["listen"] = session["servers"][0]["listen"];
  config["servers"][0]["routes"][0]["handle"]["recipe"]["address"] =
      session["servers"][0]["routes"][0]["handle"]["recipe"]["address"];
  config["servers"][0]["routes"][0]["handle"]["pool"]["client_acquire_timeout"] = "60s";
}

TEST_CASE("pggat run, transaction mode: pgbench simple, extended and prepared, 50 clients on 10 servers",
          "[cli][transaction]") {
  RunningPggat p(use_transaction_example);
  auto pgbench = [&](std::vector<std::string> args) { return run_pgbench(p.port(), args, 120s); };
  const RunResult init = pgbench({"-i", "-s", "1"});
  INFO(p.with_log(init));
  REQUIRE(init.ok());
  for (const std::string mode : {"simple", "extended", "prepared"}) {
    const RunResult run = pgbench({"-c", "50", "-j", "2", "-t", "20", "-M", mode});
    INFO(mode << "\n" << p.with_log(run));
    CHECK(run.ok());
    CHECK(processed_line(run.out) == "number of transactions actually processed: 1000/1000");
    CHECK(contains(run.out, "number of failed transactions: 0 "));
    // pgbench empties the history before each run: every row is a commit of this one.
    CHECK(direct_count("pgbench_history") == 1000);
  }
  CHECK(p.pggat->stop().describe() == "exit 0");
}

TEST_CASE("pggat run, transaction mode: psycopg 3 and asyncpg with prepared statements",
          "[cli][transaction]") {
  RunningPggat p(use_transaction_example);
  const RunResult psycopg =
      run_client({python, pggat::test::source_path("tests/integration/clients/psycopg_client.py"),
                  p.conninfo(), "cli_psycopg_txn", "transaction"});
  INFO(p.with_log(psycopg));
  CHECK(psycopg.ok());
  CHECK(contains(psycopg.out, "prepared statements on the server: 1\n"));
  CHECK(contains(psycopg.out, "psycopg OK\n"));
  CHECK(direct_count("cli_psycopg_txn") == 3);

  const RunResult asyncpg =
      run_client({python, pggat::test::source_path("tests/integration/clients/asyncpg_client.py"),
                  "127.0.0.1", std::to_string(p.port()), "cli_asyncpg_txn"});
  INFO(p.with_log(asyncpg));
  CHECK(asyncpg.ok());
  CHECK(contains(asyncpg.out, "prepared again: [(1, 7), (2, 14)]\n"));
  CHECK(contains(asyncpg.out, "asyncpg OK\n"));
  CHECK(direct_count("cli_asyncpg_txn") == 3);
}

// Transaction mode with only two servers for six clients: their rounds keep
// landing on servers that lack their statements and settings.
void use_two_transaction_servers(json& config) {
  use_transaction_example(config);
  config["servers"][0]["routes"][0]["handle"]["recipe"]["max_connections"] = 2;
}

// Debian's libpostgresql-jdbc-java and a JDK (source-file mode compiles the
// client at launch); scripts/quickstart.sh test installs both.
const std::string jdbc_jar = "/usr/share/java/postgresql.jar";
// node-postgres from tests/integration/clients/node/package-lock.json;
// scripts/quickstart.sh test runs `npm ci` there.
const std::string node_client_dir = "tests/integration/clients/node";

TEST_CASE("pggat run: JDBC server-prepared statements, batches and cursors over shared servers",
          "[cli][transaction]") {
  {
    INFO(jdbc_jar << " is missing: apt-get install libpostgresql-jdbc-java default-jdk-headless "
                     "(scripts/quickstart.sh test does)");
    REQUIRE(std::filesystem::exists(jdbc_jar));
  }
  const bool transaction = GENERATE(false, true);
  INFO((transaction ? "transaction mode, 2 servers" : "session mode"));
  RunningPggat p(transaction ? use_two_transaction_servers : std::function<void(json&)>{});
  const std::string table = transaction ? "cli_jdbc_txn" : "cli_jdbc";
  // prepareThreshold=1: a named server-side statement from the first use.
  const RunResult r = run_client(
      {"java", "-cp", jdbc_jar, pggat::test::source_path("tests/integration/clients/JdbcClient.java"),
       "jdbc:postgresql://127.0.0.1:" + std::to_string(p.port()) + "/app?prepareThreshold=1",
       table, "6", "25"},
      120s);
  INFO(p.with_log(r));
  CHECK(r.ok());
  CHECK(contains(r.out, "workers: 6 x 25 rounds\n"));
  CHECK(contains(r.out, "jdbc OK\n"));
  CHECK(direct_count(table) == 6 * 25 * 3);
  CHECK(direct_count(table, "n < 0") == 0);  // the rolled-back inserts
}

TEST_CASE("pggat run: node-postgres named queries over shared servers", "[cli][transaction]") {
  const std::string client = pggat::test::source_path(node_client_dir + "/node_client.js");
  {
    INFO("node-postgres is missing: npm ci --prefix " << node_client_dir
                                                       << " (scripts/quickstart.sh test does)");
    REQUIRE(
        std::filesystem::exists(pggat::test::source_path(node_client_dir + "/node_modules/pg")));
  }
  const bool transaction = GENERATE(false, true);
  INFO((transaction ? "transaction mode, 2 servers" : "session mode"));
  RunningPggat p(transaction ? use_two_transaction_servers : std::function<void(json&)>{});
  const std::string table = transaction ? "cli_node_txn" : "cli_node";
  const RunResult r =
      run_client({"node", client, "127.0.0.1", std::to_string(p.port()), table, "6", "25"}, 60s);
  INFO(p.with_log(r));
  CHECK(r.ok());
  CHECK(contains(r.out, "workers: 6 x 25 rounds\n"));
  CHECK(contains(r.out, "node-postgres OK\n"));
  CHECK(direct_count(table) == 6 * 25 * 3);
  CHECK(direct_count(table, "n < 0") == 0);
}

// --- 2. the command line itself ---------------------------------------------

TEST_CASE("pggat validate, --version and config errors", "[cli]") {
  TempDir dir;
  const std::string example = pggat::test::source_path("examples/session.json");

  SECTION("the example config is valid, as a positional argument or with --config") {
    for (const auto& args :
         std::vector<std::vector<std::string>>{{pggat_binary, "validate", example},
                                               {pggat_binary, "validate", "--config", example}}) {
      const RunResult r = run_program(args, 10s);
      INFO(r.describe());
      CHECK(r.ok());
      CHECK(r.out == "config OK: 1 server(s), 2 listener(s), 1 route(s)\n");
    }
  }

  SECTION("a missing recipe address is a config error with its path, for validate and run") {
    json config = json::parse(pggat::test::read_file(example));
    config["servers"][0]["routes"][0]["handle"]["recipe"].erase("address");
    const std::string file = dir / "no-address.json";
    pggat::test::write_file(file, config.dump(2));
    for (const std::string command : {"validate", "run"}) {
      const RunResult r = run_program({pggat_binary, command, file}, 10s);
      INFO(r.describe());
      CHECK(r.status.describe() == "exit 2");
      CHECK(contains(r.err,
                     "pggat: config error: servers[0].routes[0].handle.recipe.address: missing"));
    }
  }

  SECTION("invalid JSON is a config error naming the file") {
    const std::string file = dir / "broken.json";
    pggat::test::write_file(file, "{\"servers\": [{\"listen\": [}\n");
    const RunResult r = run_program({pggat_binary, "validate", file}, 10s);
    INFO(r.describe());
    CHECK(r.status.describe() == "exit 2");
    CHECK(contains(r.err, "pggat: config error: " + file + ": invalid JSON"));
    CHECK(contains(r.err, "line 1"));
  }

  SECTION("a config file that does not exist") {
    const std::string file = dir / "absent.json";
    const RunResult r = run_program({pggat_binary, "validate", file}, 10s);
    INFO(r.describe());
    CHECK(r.status.describe() == "exit 2");
    CHECK(contains(r.err, "pggat: config error: cannot open config file \"" + file + "\""));
  }

  SECTION("--version prints the library version") {
    const RunResult r = run_program({pggat_binary, "--version"}, 10s);
    INFO(r.describe());
    CHECK(r.ok());
    CHECK(r.out == std::string("pggat ") + pggat::version_string + "\n");
  }

  SECTION("run on a port that is taken exits 1 naming the address, leaving nothing behind") {
    // A listening socket holds the port: SO_REUSEADDR does not get past that.
    const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(holder >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(holder, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(holder, 1) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const std::uint16_t port = ntohs(addr.sin_port);

    const std::string socket_dir = dir / "pggat";
    const std::string file = dir / "taken.json";
    pggat::test::write_file(file, session_config(port, socket_dir).dump(2));
    const RunResult r = run_program({pggat_binary, "run", file}, 15s);
    ::close(holder);
    INFO(r.describe());
    CHECK(r.status.describe() == "exit 1");
    CHECK(contains(r.err, "127.0.0.1:" + std::to_string(port)));
    CHECK(contains(r.err, "Address already in use"));
    // The unix listener comes after the TCP one in the example: not left bound either.
    CHECK_FALSE(std::filesystem::exists(socket_dir + "/.s.PGSQL." + std::to_string(port)));
  }
}

// --- 3. stopping ------------------------------------------------------------

TEST_CASE("SIGTERM lets a running query finish, refuses new clients, then exits 0", "[cli]") {
  RunningPggat p;
  const std::string query = "select 'slept' from pg_sleep(1)";
  PgConn client = pq_connect(p.conninfo());
  REQUIRE(PQsendQuery(client.get(), query.c_str()) == 1);
  REQUIRE(eventually([&] { return backends_running(query) == 1; }));

  p.pggat->terminate();
  const auto signalled = Clock::now();

  // pggat says it drains the one client; by then its listeners are closed:
  // TCP refuses, the socket file is gone...
  REQUIRE(eventually(
      [&] {
        return contains(p.pggat->log(), "shutting down: waiting up to 30s for 1 clients to finish");
      },
      5s));
  CHECK(pggat::test::tcp_connect_error(p.port()) == ECONNREFUSED);
  CHECK_FALSE(std::filesystem::exists(p.socket_path()));
  CHECK(pggat::test::unix_connect_error(p.socket_path()) == ENOENT);
  const RunResult refused = psql(p.conninfo(), "select 1");
  INFO(p.with_log(refused));
  CHECK(refused.status.code() == 2);
  CHECK(contains(refused.err, "Connection refused"));
  // ...while pggat keeps serving the client in the middle of its query.
  CHECK_FALSE(p.pggat->exit_status());

  PgResult result = pq_next_result(client.get(), Clock::now() + 10s);
  REQUIRE(result != nullptr);
  INFO(PQresultErrorMessage(result.get()));
  REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
  CHECK(std::string(PQgetvalue(result.get(), 0, 0)) == "slept");
  CHECK(pq_next_result(client.get(), Clock::now() + 5s) == nullptr);  // the query is done
  const auto query_done = Clock::now();
  CHECK(query_done - signalled > 500ms);  // the sleep was still running at SIGTERM

  // The session is still open: pggat waits for it (shutdown_timeout is 30 s).
  CHECK_FALSE(p.pggat->wait_for(200ms));
  CHECK(PQstatus(client.get()) == CONNECTION_OK);

  client.reset();  // the client leaves: Terminate, close
  const auto status = p.pggat->wait_for(10s);
  const std::string log = p.pggat->log();
  INFO("pggat log:\n" << log);
  REQUIRE(status);
  CHECK(status->describe() == "exit 0");
  CHECK(*p.pggat->process().exited_at() > query_done);
  CHECK(*p.pggat->process().exited_at() - query_done < 5s);
  CHECK(contains(log, "received SIGTERM"));
  CHECK(contains(log, "stopped"));
}

TEST_CASE("shutdown_timeout closes an idle session and pggat exits 0", "[cli]") {
  RunningPggat p([](json& config) { config["shutdown_timeout"] = "300ms"; });
  PgConn client = pq_connect(p.conninfo());
  {
    PgResult r{PQexec(client.get(), "select 1"), &PQclear};
    REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
  }

  p.pggat->terminate();
  const auto signalled = Clock::now();
  // The client never leaves by itself; pggat must not wait for it past 300 ms.
  const auto status = p.pggat->wait_for(10s);
  INFO("pggat log:\n" << p.pggat->log());
  REQUIRE(status);
  CHECK(status->describe() == "exit 0");
  const auto took = *p.pggat->process().exited_at() - signalled;
  CHECK(took >= 300ms);
  CHECK(took < 3s);
  CHECK(contains(p.pggat->log(), "shutdown timeout: closing 1 remaining clients"));

  // The session was cut: the next query fails.
  PgResult after{PQexec(client.get(), "select 1"), &PQclear};
  CHECK(PQresultStatus(after.get()) == PGRES_FATAL_ERROR);
  CHECK(PQstatus(client.get()) == CONNECTION_BAD);
}

TEST_CASE("Ctrl-C twice: the second SIGINT closes the remaining sessions at once", "[cli]") {
  RunningPggat p;  // shutdown_timeout: the default 30 s
  PgConn client = pq_connect(p.conninfo());
  {
    PgResult r{PQexec(client.get(), "select 1"), &PQclear};
    REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
  }

  p.pggat->process().send_signal(SIGINT);
  const bool draining = eventually(
      [&] {
        return contains(p.pggat->log(), "shutting down: waiting up to 30s for 1 clients to finish");
      },
      5s);
  INFO("pggat log:\n" << p.pggat->log());
  REQUIRE(draining);
  CHECK(contains(p.pggat->log(), "received SIGINT"));
  CHECK_FALSE(p.pggat->exit_status());

  p.pggat->process().send_signal(SIGINT);
  const auto signalled = Clock::now();
  const auto status = p.pggat->wait_for(10s);
  INFO("pggat log after the second SIGINT:\n" << p.pggat->log());
  REQUIRE(status);
  CHECK(status->describe() == "exit 0");
  CHECK(*p.pggat->process().exited_at() - signalled < 3s);  // not the 30 s grace
  CHECK(contains(p.pggat->log(), "second signal: closing every client now"));

  PgResult after{PQexec(client.get(), "select 1"), &PQclear};
  CHECK(PQresultStatus(after.get()) == PGRES_FATAL_ERROR);
  CHECK(PQstatus(client.get()) == CONNECTION_BAD);
}

// --- 4. the examples --------------------------------------------------------

#ifdef PGGAT_CUSTOM_MATCHER_BINARY
TEST_CASE("examples/custom_matcher routes on application_name", "[cli]") {
  (void)PostgresServer::instance();
  TempDir dir;
  json config =
      json::parse(pggat::test::read_file(pggat::test::source_path("examples/custom_matcher.json")));
  const std::uint16_t port = pggat::test::free_tcp_port();
  pggat::test::point_config_at(config, port, dir / "sock", PostgresServer::instance().address());
  pggat::test::write_file(dir / "custom_matcher.json", config.dump(2));
  PggatProcess example({PGGAT_CUSTOM_MATCHER_BINARY, dir / "custom_matcher.json"}, dir.path(), port,
                       "custom_matcher");
  auto with_log = [&](const RunResult& r) {
    return r.describe() + "\n--- custom_matcher stderr ---\n" + example.log();
  };
  // Printed just after binding, so maybe a moment after the port accepts.
  const std::string listening = "listening 127.0.0.1:" + std::to_string(port) + "\n";
  CHECK(eventually([&] { return example.out() == listening; }, 5s));

  const std::string base = tcp_conninfo(port);
  const RunResult report =
      psql(base + " application_name=report-daily", "select current_database()");
  INFO(with_log(report));
  CHECK(report.ok());
  CHECK(report.out == "app\n");

  for (const std::string other : {"application_name=web", ""}) {  // psql's default is "psql"
    const RunResult r = psql(base + " " + other, "select current_database(), current_user");
    INFO(with_log(r));
    CHECK(r.ok());
    CHECK(r.out == "postgres|app\n");
  }
  CHECK(example.stop().describe() == "exit 0");
}
#endif

#ifdef PGGAT_EMBEDDED_BINARY
TEST_CASE("examples/embedded serves clients while the host's own timer keeps running", "[cli]") {
  auto& server = PostgresServer::instance();
  TempDir dir;
  const std::uint16_t port = pggat::test::free_tcp_port();
  PggatProcess example({PGGAT_EMBEDDED_BINARY, "127.0.0.1:" + std::to_string(port),
                        server.address(), "app", "app-pass", "app"},
                       dir.path(), port, "embedded");
  auto output = [&] {
    return "--- embedded stdout ---\n" + example.out() + "--- embedded stderr ---\n" +
           example.log();
  };

  const RunResult r =
      psql(tcp_conninfo(port, "dbname=anything"), "select current_user, current_database()");
  INFO(r.describe() + "\n" + output());
  CHECK(r.ok());
  CHECK(r.out == "app|app\n");

  // A client connected: the heartbeat, printed by the host's timer on the same
  // loop, sees it; and once it leaves, its server stays pooled.
  {
    pqxx::connection held{tcp_conninfo(port, "connect_timeout=10")};
    pqxx::nontransaction(held).exec("select 1");
    const bool saw_client = eventually(
        [&] { return contains(example.out(), "host heartbeat: 1 clients, 1 servers"); }, 5s);
    INFO(output());
    CHECK(saw_client);
  }
  const bool saw_idle_server = eventually(
      [&] { return contains(example.out(), "host heartbeat: 0 clients, 1 servers"); }, 5s);
  INFO(output());
  CHECK(saw_idle_server);
  const std::string out = example.out();
  CHECK(contains(out, "listening 127.0.0.1:" + std::to_string(port) + "\n"));
  CHECK(example.stop().describe() == "exit 0");
}
#endif

namespace {
// Peak resident set of a process, in KiB (VmHWM in /proc/PID/status).
long peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}
}  // namespace

TEST_CASE("100 MB messages stream through pggat without being buffered whole", "[cli][big]") {
  RunningPggat p;
  constexpr std::size_t size = 100 * 1024 * 1024;
  pqxx::connection c(p.conninfo());
  pqxx::nontransaction n(c);
  // Server to client: a 100 MB DataRow.
  const auto out = n.exec("select repeat('x', " + std::to_string(size) + ")");
  CHECK(out[0][0].size() == size);
  // Client to server: a 100 MB Bind parameter.
  const std::string big(size, 'y');
  CHECK(n.exec_params("select length($1)", big)[0][0].as<std::size_t>() == size);
  const long peak = peak_rss_kib(p.pggat->pid());
  INFO("pggat peak RSS " << peak << " KiB");
  REQUIRE(peak > 0);
  CHECK(peak < 40 * 1024);  // far below the 100 MB it would take to hold one message
}

TEST_CASE("pggat run: JSON log lines with the connection log", "[cli][logging]") {
  RunningPggat p([](json& config) { config["log"] = {{"format", "json"}, {"connections", true}}; });
  const RunResult r = psql(p.conninfo("application_name=logged"), "select 1");
  INFO(p.with_log(r));
  REQUIRE(r.ok());
  CHECK(eventually([&] { return p.pggat->log().find("disconnected after") != std::string::npos; }));
  const std::string log = p.pggat->log();
  std::istringstream lines(log);
  std::string line;
  bool connected = false, disconnected = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    INFO(line);
    const json entry = json::parse(line);  // every line is one JSON object
    CHECK(entry.contains("time"));
    CHECK(entry.contains("level"));
    const std::string message = entry["message"];
    connected = connected || (message.find("connected from 127.0.0.1:") != std::string::npos &&
                              message.find("user \"app\" database \"app\"") != std::string::npos);
    disconnected = disconnected || message.find("disconnected after") != std::string::npos;
  }
  CHECK(connected);
  CHECK(disconnected);
}
