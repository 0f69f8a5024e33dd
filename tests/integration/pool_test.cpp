// The server side of session pooling: queueing, limits, timeouts, resets, failures.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "pool/server_policy.hpp"
#include "support/pooler.hpp"
#include "support/postgres_server.hpp"
#include "support/ports.hpp"
#include "support/pq.hpp"
#include "support/tcp_proxy.hpp"

using namespace pggat::test;
using namespace std::chrono_literals;

namespace {

// Polls until pred() holds or the deadline passes; returns pred()'s last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

std::string pids_of(const std::string& application_name) {
  return PostgresServer::instance()
      .execute("select coalesce(string_agg(pid::text, ',' order by pid), '') from pg_stat_activity "
               "where application_name = '" + application_name + "'")[0][0]
      .as<std::string>();
}

bool backend_exists(const std::string& pid) {
  return PostgresServer::instance()
             .execute("select count(*) from pg_stat_activity where pid = " + pid)[0][0]
             .as<int>() == 1;
}

bool backend_idle(const std::string& pid) {
  return PostgresServer::instance()
             .execute("select count(*) from pg_stat_activity where pid = " + pid +
                      " and state = 'idle'")[0][0]
             .as<int>() == 1;
}

// The first value of `sql`'s result, or nullopt when none came within `limit`
// (a query on a silent server must fail the test, not hang it).
std::optional<std::string> value_within(PqConnection& c, const std::string& sql,
                                        std::chrono::milliseconds limit) {
  if (PQsendQuery(c.get(), sql.c_str()) != 1) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (PQisBusy(c.get()) == 1) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{PQsocket(c.get()), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
    if (PQconsumeInput(c.get()) == 0) return std::nullopt;
  }
  std::optional<std::string> value;
  while (PGresult* r = PQgetResult(c.get())) {
    const PqResult result(r);
    if (!value && result.ok() && result.rows() > 0) value = result.value();
  }
  return value;
}

// SIGSTOPs a backend: alive to the kernel, silent to pggat. Resumed on scope exit.
class FrozenBackend {
 public:
  explicit FrozenBackend(const std::string& pid) : pid_(std::stoi(pid)) {
    REQUIRE(::kill(pid_, SIGSTOP) == 0);
  }
  ~FrozenBackend() { ::kill(pid_, SIGCONT); }
  FrozenBackend(const FrozenBackend&) = delete;
  FrozenBackend& operator=(const FrozenBackend&) = delete;

 private:
  pid_t pid_;
};

}  // namespace

TEST_CASE("200 clients queue for 10 servers and all finish", "[pool]") {
  InProcessPooler pooler(session_config({{"client_acquire_timeout", "60s"}}, {{"max_connections", 10}}));
  std::atomic<int> ok{0};
  std::mutex mu;
  std::set<int> pids;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (int i = 0; i < 200; ++i) {
    clients.emplace_back([&] {
      try {
        pqxx::connection c(pooler.conninfo());
        pqxx::nontransaction n(c);
        const auto r = n.exec("select pg_backend_pid(), pg_sleep(0.01)");
        std::lock_guard lock(mu);
        pids.insert(r[0][0].as<int>());
        ++ok;
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        failures.emplace_back(e.what());
      }
    });
  }
  for (auto& t : clients) t.join();
  INFO((failures.empty() ? std::string() : failures.front()));
  CHECK(ok == 200);
  CHECK(failures.empty());
  CHECK(pids.size() <= 10);  // never more servers than max_connections
  CHECK(!pids.empty());
}

TEST_CASE("a client that waits too long gets a clear FATAL naming the pool", "[pool]") {
  InProcessPooler pooler(session_config({{"client_acquire_timeout", "300ms"}, {"name", "tight"}},
                                        {{"max_connections", 1}}));
  auto holder = std::make_unique<pqxx::connection>(pooler.conninfo());
  const std::string error = connection_error(pooler.conninfo());
  CHECK(error.find("timed out after 300ms waiting for a server connection in pool \"tight\" "
                   "(1 server busy, 1 client waiting; see client_acquire_timeout and "
                   "max_connections)") != std::string::npos);
  // The held server is still fine, and goes to the next client once free.
  CHECK(pqxx::nontransaction(*holder).exec("select 1")[0][0].as<int>() == 1);
  holder.reset();
  pqxx::connection next(pooler.conninfo());
  CHECK(pqxx::nontransaction(next).exec("select 2")[0][0].as<int>() == 2);
}

TEST_CASE("the next client gets a clean server: session state is reset", "[pool]") {
  InProcessPooler pooler(session_config({}, {{"max_connections", 1}}));
  int first_pid = 0;
  {
    PqConnection a(pooler.conninfo());
    first_pid = std::stoi(a.exec("select pg_backend_pid()").value());
    REQUIRE(a.exec("set statement_timeout = '7s'").ok());
    REQUIRE(a.exec("create temporary table leftover (x int)").ok());
    REQUIRE(a.exec("prepare stmt as select 1").ok());
    REQUIRE(a.exec("listen some_channel").ok());
  }
  PqConnection b(pooler.conninfo());
  CHECK(std::stoi(b.exec("select pg_backend_pid()").value()) == first_pid);  // same server
  CHECK(b.exec("show statement_timeout").value() == "0");
  CHECK(b.exec("select count(*) from pg_class where relname = 'leftover'").value() == "0");
  CHECK(b.exec("select count(*) from pg_prepared_statements").value() == "0");
  CHECK(b.exec("select count(*) from pg_listening_channels()").value() == "0");
}

TEST_CASE("a client that vanishes mid-transaction leaves nothing behind", "[pool]") {
  PostgresServer::instance().execute("create table if not exists vanish_test (v int)", "app");
  PostgresServer::instance().execute("grant all on vanish_test to app", "app");
  PostgresServer::instance().execute("truncate vanish_test", "app");
  InProcessPooler pooler(session_config({}, {{"max_connections", 1}}));
  int first_pid = 0;
  {
    // Dropped without Terminate while the transaction is open.
    auto* raw = PQconnectdb(pooler.conninfo().c_str());
    REQUIRE(PQstatus(raw) == CONNECTION_OK);
    PqResult pid(PQexec(raw, "select pg_backend_pid()"));
    first_pid = std::stoi(pid.value());
    PqResult begin(PQexec(raw, "begin"));
    PqResult insert(PQexec(raw, "insert into vanish_test values (1)"));
    REQUIRE(insert.ok());
    ::shutdown(PQsocket(raw), SHUT_RDWR);
    PQfinish(raw);
  }
  PqConnection b(pooler.conninfo());
  CHECK(std::stoi(b.exec("select pg_backend_pid()").value()) == first_pid);
  CHECK(b.exec("select count(*) from vanish_test").value() == "0");
  CHECK(b.exec("select 1").value() == "1");
}

TEST_CASE("a client that vanishes mid-COPY or mid-query leaves a usable server", "[pool]") {
  PostgresServer::instance().execute("create table if not exists vanish_copy (v int)", "app");
  PostgresServer::instance().execute("grant all on vanish_copy to app", "app");
  PostgresServer::instance().execute("truncate vanish_copy", "app");
  InProcessPooler pooler(session_config({}, {{"max_connections", 1}}));
  {
    auto* raw = PQconnectdb(pooler.conninfo().c_str());
    INFO(PQerrorMessage(raw));
    REQUIRE(PQstatus(raw) == CONNECTION_OK);
    PqResult copy(PQexec(raw, "copy vanish_copy from stdin"));
    REQUIRE(copy.status() == PGRES_COPY_IN);
    REQUIRE(PQputCopyData(raw, "1\n2\n", 4) == 1);
    PQflush(raw);
    ::shutdown(PQsocket(raw), SHUT_RDWR);
    PQfinish(raw);
  }
  {
    auto* raw = PQconnectdb(pooler.conninfo().c_str());
    INFO(PQerrorMessage(raw));
    REQUIRE(PQstatus(raw) == CONNECTION_OK);
    REQUIRE(PQsendQuery(raw, "select pg_sleep(0.5)") == 1);  // gone before the answer
    ::shutdown(PQsocket(raw), SHUT_RDWR);
    PQfinish(raw);
  }
  PqConnection b(pooler.conninfo());
  CHECK(b.exec("select count(*) from vanish_copy").value() == "0");
  CHECK(b.exec("select 3").value() == "3");
}

TEST_CASE("a server killed mid-session: that client gets an error, the next one works", "[pool]") {
  InProcessPooler pooler(session_config({}, {{"max_connections", 2}}));
  PqConnection victim(pooler.conninfo());
  const std::string pid = victim.exec("select pg_backend_pid()").value();
  PostgresServer::instance().execute("select pg_terminate_backend(" + pid + ")");
  // The server's FATAL reaches the idle client, as it does without pggat.
  pollfd p{PQsocket(victim.get()), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 10000) == 1);
  std::string message;
  for (int i = 0; i < 100 && message.empty(); ++i) {
    if (PQconsumeInput(victim.get()) == 0) {
      message = PQerrorMessage(victim.get());
    } else {
      (void)PQisBusy(victim.get());  // parses what arrived
      ::poll(&p, 1, 100);
    }
  }
  // libpq hands an error that arrives while idle to the notice receiver.
  CHECK(message.find("server closed the connection") != std::string::npos);
  REQUIRE(!victim.notices().empty());
  CHECK(victim.notices().back().find("terminating connection due to administrator command") !=
        std::string::npos);
  CHECK(!victim.exec("select 1").ok());

  PqConnection next(pooler.conninfo());
  CHECK(next.exec("select 42").value() == "42");
  CHECK(next.exec("select pg_backend_pid()").value() != pid);
}

TEST_CASE("an idle server killed in the pool is noticed when lent, replaced, and not counted as a loan", "[pool]") {
  const std::string mode = GENERATE("session", "transaction");
  INFO(mode);
  InProcessPooler pooler(session_config({{"mode", mode}}, {{"max_connections", 1}}));
  auto acquires = [&] { return pooler.pools().at(0).stats.acquires; };
  auto discarded = [&] { return pooler.pools().at(0).stats.servers_discarded; };
  // What a client's login and two queries count as loans, with the server alive.
  std::string pid;
  const std::uint64_t first = acquires();
  {
    PqConnection a(pooler.conninfo());
    pid = a.exec("select pg_backend_pid()").value();
    REQUIRE(a.exec("select 1").ok());
  }
  REQUIRE(eventually([&] { return pooler.stats().clients == 0 && pooler.pools().at(0).stats.servers_idle == 1; }));
  // Looked at when lent only once it has idled peek_after (one released a
  // moment ago answered a moment ago).
  const auto looked_at_from = std::chrono::steady_clock::now() + pggat::pool::peek_after;
  const std::uint64_t loans = acquires() - first;
  // The server now idles in the pool; kill it there.
  REQUIRE(eventually([&] {
    return PostgresServer::instance()
               .execute("select count(*) from pg_stat_activity where pid = " + pid + " and state = 'idle'")[0][0]
               .as<int>() == 1;
  }));
  PostgresServer::instance().execute("select pg_terminate_backend(" + pid + ")");
  REQUIRE(eventually([&] {
    return PostgresServer::instance()
               .execute("select count(*) from pg_stat_activity where pid = " + pid)[0][0]
               .as<int>() == 0;
  }));
  const std::uint64_t before = acquires();
  const std::uint64_t discarded_before = discarded();
  std::this_thread::sleep_until(looked_at_from);  // a time is what is waited for
  {
    PqConnection b(pooler.conninfo());
    CHECK(b.exec("select pg_backend_pid()").value() != pid);
    CHECK(b.exec("select 5").value() == "5");
  }
  REQUIRE(eventually([&] { return pooler.stats().clients == 0; }));
  // Closed when it was about to be lent (or by the pool's once-a-second
  // check, if that came first): either way a discard, and no loan.
  CHECK(discarded() == discarded_before + 1);
  CHECK(acquires() - before == loans);
}

TEST_CASE("an unreachable server: FATAL 08006 naming it, quickly, and pggat keeps serving", "[pool]") {
  const std::uint16_t dead_port = free_tcp_port();
  InProcessPooler pooler(session_config({{"client_acquire_timeout", "30s"}},
                                        {{"address", "127.0.0.1:" + std::to_string(dead_port)}}));
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto start = std::chrono::steady_clock::now();
    const std::string error = connection_error(pooler.conninfo());
    const auto took = std::chrono::steady_clock::now() - start;
    INFO(error);
    CHECK(error.find("could not connect to server at \"127.0.0.1:" + std::to_string(dead_port) + "\"") !=
          std::string::npos);
    CHECK(error.find("Connection refused") != std::string::npos);
    // Failing fast, not waiting out client_acquire_timeout (30s).
    CHECK(took < std::chrono::seconds(10));
  }
  CHECK(eventually([&] { return pooler.stats().clients == 0; }));
}

TEST_CASE("server_connect_retry_window holds clients while the server is down, then serves them",
          "[pool]") {
  const std::uint16_t port = free_tcp_port();
  InProcessPooler pooler(session_config({{"mode", "transaction"},
                                         {"client_acquire_timeout", "30s"},
                                         {"server_connect_retry_window", "20s"},
                                         {"server_reconnect_initial_time", "100ms"},
                                         {"server_reconnect_max_time", "100ms"}},
                                        {{"address", "127.0.0.1:" + std::to_string(port)}}));
  auto client = std::async(std::launch::async, [&] {
    PqConnection c(pooler.conninfo());
    return c.exec("SELECT 'served'").value();
  });
  const auto failures = [&] { return pooler.pools().at(0).stats.connect_failures; };
  // Several attempts failed, and the client is still waiting, not failed.
  REQUIRE(eventually([&] { return failures() >= 3; }));
  CHECK(client.wait_for(0s) == std::future_status::timeout);
  CHECK(pooler.pools().at(0).stats.clients_waiting == 1);

  // The server comes back on the address the recipe dials.
  const PostgresServer& pg = PostgresServer::instance();
  TcpProxy server(pg.host(), pg.port(), port);
  REQUIRE(client.wait_for(20s) == std::future_status::ready);
  CHECK(client.get() == "served");
}

TEST_CASE("server_connect_retry_window: a client that waits it out gets the dial error", "[pool]") {
  const std::uint16_t dead_port = free_tcp_port();
  InProcessPooler pooler(session_config({{"mode", "transaction"},
                                         {"client_acquire_timeout", "30s"},
                                         {"server_connect_retry_window", "1s"},
                                         {"server_reconnect_initial_time", "100ms"},
                                         {"server_reconnect_max_time", "100ms"}},
                                        {{"address", "127.0.0.1:" + std::to_string(dead_port)}}));
  const auto start = std::chrono::steady_clock::now();
  const std::string error = connection_error(pooler.conninfo());
  const auto took = std::chrono::steady_clock::now() - start;
  INFO(error);
  CHECK_THAT(error, Catch::Contains("Connection refused") &&
                        Catch::Contains("gave up after server_connect_retry_window 1s"));
  CHECK(took >= 1s);
  CHECK(took < 10s);  // the window, not client_acquire_timeout (30s)
}

TEST_CASE("min_connections are kept open and idle servers above them close", "[pool]") {
  const std::string marker = "pggat-min-test";
  InProcessPooler pooler(session_config({{"server_idle_timeout", "300ms"}},
                                        {{"min_connections", 2},
                                         {"max_connections", 5},
                                         {"parameters", {{"application_name", marker}}}}));
  auto count = [&] {
    return PostgresServer::instance()
        .execute("select count(*) from pg_stat_activity where application_name = '" + marker + "'")[0][0]
        .as<int>();
  };
  CHECK(eventually([&] { return count() == 2; }));
  {
    // Four clients at once need two more servers.
    std::vector<std::unique_ptr<PqConnection>> held;
    for (int i = 0; i < 4; ++i) {
      held.push_back(std::make_unique<PqConnection>(pooler.conninfo()));
      REQUIRE(held.back()->exec("select 1").ok());
    }
    CHECK(count() == 4);
  }
  // Once idle for longer than server_idle_timeout, back down to min_connections.
  CHECK(eventually([&] { return count() == 2; }));
}

TEST_CASE("client_acquire_timeout 0 waits as long as it takes", "[pool]") {
  InProcessPooler pooler(session_config({{"client_acquire_timeout", 0}}, {{"max_connections", 1}}));
  auto holder = std::make_unique<PqConnection>(pooler.conninfo());
  std::atomic<bool> done{false};
  std::string result;
  std::thread waiter([&] {
    PqConnection w(pooler.conninfo());
    result = w.exec("select 'served'").value();
    done = true;
  });
  // Both clients connected: the second one is queued behind the only server.
  REQUIRE(eventually([&] { return pooler.stats().clients == 2; }));
  CHECK(!done);
  holder.reset();
  waiter.join();
  CHECK(result == "served");
}

TEST_CASE("a server whose reset fails or overruns its timeout is closed, not reused", "[pool]") {
  SECTION("the reset query fails") {
    InProcessPooler pooler(session_config({{"server_reset_query", "select no_such_function()"}},
                                          {{"max_connections", 1}}));
    std::string first;
    {
      PqConnection a(pooler.conninfo());
      first = a.exec("select pg_backend_pid()").value();
    }
    PqConnection b(pooler.conninfo());
    CHECK(b.exec("select pg_backend_pid()").value() != first);
    CHECK(eventually([&] {
      return PostgresServer::instance()
                 .execute("select count(*) from pg_stat_activity where pid = " + first)[0][0]
                 .as<int>() == 0;
    }));
  }
  SECTION("the reset takes longer than server_reset_query_timeout") {
    InProcessPooler pooler(session_config(
        {{"server_reset_query", "select pg_sleep(30)"}, {"server_reset_query_timeout", "200ms"}},
        {{"max_connections", 1}}));
    std::string first;
    {
      PqConnection a(pooler.conninfo());
      first = a.exec("select pg_backend_pid()").value();
    }
    const auto start = std::chrono::steady_clock::now();
    PqConnection b(pooler.conninfo());
    CHECK(b.exec("select pg_backend_pid()").value() != first);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    // The abandoned backend is cancelled, not left sleeping for 30 s.
    CHECK(eventually([&] {
      return PostgresServer::instance()
                 .execute("select count(*) from pg_stat_activity where pid = " + first)[0][0]
                 .as<int>() == 0;
    }));
  }
}

TEST_CASE("min_connections are dialed at start and serve the first clients", "[pool]") {
  const std::string marker = "pggat-min-start-test";
  InProcessPooler pooler(session_config(
      {}, {{"min_connections", 3}, {"max_connections", 5}, {"parameters", {{"application_name", marker}}}}));
  // Before any client has come.
  REQUIRE(eventually([&] {
    const std::string pids = pids_of(marker);
    return std::count(pids.begin(), pids.end(), ',') == 2;
  }));
  const std::string dialed = "," + pids_of(marker) + ",";
  PqConnection a(pooler.conninfo());
  const std::string pid = a.exec("select pg_backend_pid()").value();
  CHECK(dialed.find("," + pid + ",") != std::string::npos);  // no dial was needed
  CHECK("," + pids_of(marker) + "," == dialed);
}

TEST_CASE("a server past server_lifetime is closed on release and when idle, then replaced",
          "[pool][lifetime]") {
  const std::string marker = "pggat-lifetime-test";
  InProcessPooler pooler(session_config({{"server_lifetime", "3s"}},
                                        {{"min_connections", 1},
                                         {"max_connections", 1},
                                         {"parameters", {{"application_name", marker}}}}));
  REQUIRE(eventually([&] { return !pids_of(marker).empty(); }));
  const std::string first = pids_of(marker);
  {
    // Young: reused.
    PqConnection a(pooler.conninfo());
    CHECK(a.exec("select pg_backend_pid()").value() == first);
  }
  {
    PqConnection b(pooler.conninfo());
    CHECK(b.exec("select pg_backend_pid()").value() == first);
    // Lent servers are left alone however old they get.
    REQUIRE(eventually([&] {
      return b.exec("select clock_timestamp() - backend_start > interval '3.2s' from "
                    "pg_stat_activity where pid = pg_backend_pid()")
                 .value() == "t";
    }));
    CHECK(b.exec("select 7").value() == "7");
  }
  // Released past its lifetime: closed, and the next client gets a new one.
  CHECK(eventually([&] { return !backend_exists(first); }));
  std::string second;
  {
    PqConnection c(pooler.conninfo());
    second = c.exec("select pg_backend_pid()").value();
    CHECK(second != first);
  }
  // Idle past its lifetime: the janitor closes it and dials min_connections anew.
  CHECK(eventually([&] {
    const std::string now = pids_of(marker);
    return !now.empty() && now != second && !backend_exists(second);
  }));
}

TEST_CASE("an idle server that fails its check is replaced before the client sees it",
          "[pool][check]") {
  // connect_timeout bounds the check (at most 5s).
  InProcessPooler pooler(session_config({{"server_check_delay", 0}},
                                        {{"max_connections", 2}, {"connect_timeout", "1s"}}));
  std::string pid;
  {
    PqConnection a(pooler.conninfo());
    pid = a.exec("select pg_backend_pid()").value();
  }
  REQUIRE(eventually([&] { return backend_idle(pid); }));

  SECTION("a backend that stopped answering") {
    // The idle watch cannot see this one: only the check can.
    FrozenBackend frozen(pid);
    PqConnection b(pooler.conninfo());
    // Served by a new server, once the 1s check has given up on the old one.
    const auto served_by = value_within(b, "select pg_backend_pid()", std::chrono::seconds(8));
    REQUIRE(served_by.has_value());
    CHECK(*served_by != pid);
    CHECK(b.exec("select 5").value() == "5");
  }
  SECTION("a backend terminated just before the client came") {
    PostgresServer::instance().execute("select pg_terminate_backend(" + pid + ")");
    PqConnection b(pooler.conninfo());
    CHECK(b.exec("select 5").value() == "5");
    CHECK(b.exec("select pg_backend_pid()").value() != pid);
  }
  // pggat hung up on it; resumed, it sees that and exits.
  CHECK(eventually([&] { return !backend_exists(pid); }));
}

TEST_CASE("pooler rob serves session clients", "[pool][rob]") {
  InProcessPooler pooler(session_config({{"pooler", {{"pooler", "rob"}}}}, {{"max_connections", 2}}));
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 10; ++i) {
    clients.emplace_back([&] {
      try {
        PqConnection c(pooler.conninfo());
        if (c.exec("select pg_sleep(0.02), 1").value(0, 1) == "1") ++ok;
      } catch (const std::exception&) {
        // counted as not ok
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(ok == 10);
}
