// threads: clients spread over several io_context threads, with one pool's limits, cancels and shutdown across them.
#include <libpq-fe.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "support/pggat_process.hpp"
#include "support/pooler.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"

using namespace pggat::test;
using namespace std::chrono_literals;

namespace {

// Matches every client and records the thread it was asked on: the thread
// the client's connection is served from.
struct ThreadLog {
  std::mutex mu;
  std::set<std::thread::id> seen;
};

class RecordingMatcher final : public pggat::Matcher {
 public:
  explicit RecordingMatcher(ThreadLog& log) : log_(log) {}
  bool matches(const pggat::Client&) const override {
    std::lock_guard lock(log_.mu);
    log_.seen.insert(std::this_thread::get_id());
    return true;
  }

 private:
  ThreadLog& log_;
};

// Round robin (thread_fill 0) unless `fill` says otherwise: these tests
// spread clients over every thread.
nlohmann::json threaded_config(int threads, const nlohmann::json& pool, int max_connections,
                               const std::string& application_name = "threads_test", int fill = 0) {
  nlohmann::json config =
      session_config(pool, {{"max_connections", max_connections},
                            {"parameters", {{"application_name", application_name}}}});
  config["threads"] = threads;
  config["thread_fill"] = fill;
  config["servers"][0]["routes"][0]["match"] = {{"matcher", "record_thread"}};
  return config;
}

std::function<void(pggat::Registry&)> recording(ThreadLog& log) {
  return [&log](pggat::Registry& r) {
    r.add_matcher("record_thread", [&log](const pggat::ConfigNode&, const pggat::Registry&) {
      return std::make_shared<const RecordingMatcher>(log);
    });
  };
}

// n clients, each connected and answered once.
std::vector<std::unique_ptr<PqConnection>> connect_clients(InProcessPooler& pooler, int n) {
  std::vector<std::unique_ptr<PqConnection>> conns;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<PqConnection>(pooler.conninfo()));
    CHECK(conns.back()->exec("select 1").value() == "1");
  }
  return conns;
}

}  // namespace

TEST_CASE("threads: 4 serves clients from four threads under one pool limit", "[threads]") {
  ThreadLog log;
  InProcessPooler pooler(threaded_config(4, {{"mode", "transaction"}}, 3), recording(log));
  CHECK(pooler.threads() == 4);

  constexpr int clients = 24;
  constexpr int queries = 40;
  std::atomic<int> ok{0};
  std::mutex pids_mu;
  std::set<std::string> pids;
  std::vector<std::thread> workers;
  for (int c = 0; c < clients; ++c)
    workers.emplace_back([&, c] {
      PqConnection conn(pooler.conninfo());
      for (int q = 0; q < queries; ++q) {
        const PqResult r = conn.exec("select pg_backend_pid(), " + std::to_string(c * queries + q));
        if (r.ok() && PQgetvalue(r.get(), 0, 1) == std::to_string(c * queries + q)) {
          ++ok;
          std::lock_guard lock(pids_mu);
          pids.insert(r.value());
        }
      }
    });
  for (auto& w : workers) w.join();

  CHECK(ok == clients * queries);  // every answer went to the client that asked
  CHECK(pids.size() <= 3);         // max_connections holds across threads
  std::lock_guard lock(log.mu);
  CHECK(log.seen.size() == 4);     // round robin reached every thread
}

TEST_CASE("threads: 1 serves every client from one thread", "[threads]") {
  ThreadLog log;
  InProcessPooler pooler(threaded_config(1, {{"mode", "transaction"}}, 2), recording(log));
  CHECK(pooler.threads() == 1);
  const auto conns = connect_clients(pooler, 5);
  std::lock_guard lock(log.mu);
  CHECK(log.seen.size() == 1);
}

TEST_CASE("threads: a cancel request accepted on one thread reaches a query run from another",
          "[threads]") {
  ThreadLog log;
  // Round robin over 2 threads: the cancel's connection lands on the other one.
  InProcessPooler pooler(threaded_config(2, {{"mode", "transaction"}}, 2), recording(log));
  PqConnection a(pooler.conninfo("app", "app", "application_name=threads_cancel"));
  REQUIRE(PQsendQuery(a.get(), "select pg_sleep(30)") == 1);
  pqxx::connection admin{PostgresServer::instance().conninfo("postgres", "postgres-pass", "postgres")};
  REQUIRE(eventually([&] {
    pqxx::nontransaction n(admin);
    return n.exec("select count(*) from pg_stat_activity where application_name = 'threads_cancel' "
                  "and query = 'select pg_sleep(30)' and state = 'active'")[0][0].as<int>() == 1;
  }));
  CHECK(cancel_and_wait(a) == "57014");
  CHECK(a.exec("select 1").value() == "1");
}

TEST_CASE("clients get distinct backend keys, more of them than one batch of random words",
          "[threads][cancel]") {
  ThreadLog log;
  InProcessPooler pooler(threaded_config(2, {{"mode", "transaction"}}, 2), recording(log));
  const auto conns = connect_clients(pooler, 150);  // the keys come 64 to a RAND_bytes call
  std::set<int> pids;
  for (const auto& c : conns) {
    const int pid = PQbackendPID(c->get());
    CHECK(pid > 0);  // looks like a process id: positive
    pids.insert(pid);
  }
  CHECK(pids.size() == conns.size());
}

TEST_CASE("threads: shutdown closes clients on every thread and the threads end", "[threads]") {
  ThreadLog log;
  InProcessPooler pooler(threaded_config(3, {{"mode", "session"}}, 6, "threads_shutdown"), recording(log));
  const auto conns = connect_clients(pooler, 6);
  {
    std::lock_guard lock(log.mu);
    CHECK(log.seen.size() == 3);
  }
  // Sessions hold servers on all three threads; a zero grace closes them all,
  // and stop() returns only once the App reported it stopped.
  pooler.stop(0ns);
  for (auto& c : conns) CHECK_FALSE(c->exec("select 1").ok());
  // (Servers held in session mode are reset, then closed by the stopped pool.)
  // The servers they held were closed, not left open on a thread that ended.
  CHECK(eventually([&] {
    return PostgresServer::instance()
               .execute("select count(*) from pg_stat_activity where application_name = "
                        "'threads_shutdown'")[0][0]
               .as<int>() == 0;
  }));
}

TEST_CASE("thread_fill: new clients stay on the first thread while it has time to spare", "[threads]") {
  ThreadLog log;
  nlohmann::json config = threaded_config(4, {{"mode", "transaction"}}, 2);
  config.erase("thread_fill");  // the default
  InProcessPooler pooler(config, recording(log));
  const auto conns = connect_clients(pooler, 12);
  std::lock_guard lock(log.mu);
  CHECK(log.seen.size() == 1);
  CHECK(pooler.stats().clients_moved == 0);
}

TEST_CASE("thread_fill: a client between units moves to a thread with time to spare and keeps its "
          "session, its cancels, its parking and its close",
          "[threads]") {
  ThreadLog log;
  // A fill of 1%: a thread serving one busy client is past it, an idle one
  // well under half, so the client moves at each sample period (100 ms),
  // back and forth.
  InProcessPooler pooler(threaded_config(2, {{"mode", "transaction"}}, 2, "threads_move", 1), recording(log));
  PqConnection c(pooler.conninfo("app", "app", "application_name=threads_move"));
  REQUIRE(c.exec("set application_name = 'moved_about'").ok());
  PGresult* prepared = PQprepare(c.get(), "twice", "select $1::int * 2", 1, nullptr);
  REQUIRE(PQresultStatus(prepared) == PGRES_COMMAND_OK);
  PQclear(prepared);
  int answered = 0;
  bool all_right = true;
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (pooler.stats().clients_moved < 4 && std::chrono::steady_clock::now() < give_up) {
    for (int i = 0; i < 50; ++i, ++answered) {
      const std::string n = std::to_string(answered);
      const char* values[] = {n.c_str()};
      PGresult* r = PQexecPrepared(c.get(), "twice", 1, values, nullptr, nullptr, 0);
      all_right = all_right && PQresultStatus(r) == PGRES_TUPLES_OK &&
                  std::string(PQgetvalue(r, 0, 0)) == std::to_string(2 * answered);
      PQclear(r);
    }
    all_right = all_right && c.exec("select current_setting('application_name')").value() == "moved_about";
  }
  INFO(answered << " queries");
  CHECK(all_right);
  REQUIRE(pooler.stats().clients_moved >= 4);

  // A cancel finds it wherever it is now.
  REQUIRE(PQsendQuery(c.get(), "select pg_sleep(30)") == 1);
  pqxx::connection admin{PostgresServer::instance().conninfo("postgres", "postgres-pass", "postgres")};
  REQUIRE(eventually([&] {
    pqxx::nontransaction n(admin);
    return n.exec("select count(*) from pg_stat_activity where application_name = 'moved_about' "
                  "and query = 'select pg_sleep(30)' and state = 'active'")[0][0].as<int>() == 1;
  }));
  CHECK(cancel_and_wait(c) == "57014");
  CHECK(c.exec("select 1").value() == "1");
  // Idle, it is parked by the App's sweep on the thread it is on now.
  CHECK(eventually([&] { return pooler.stats().clients_parked == 1; }));
  CHECK(c.exec("select 2").value() == "2");
  // No grace: it is closed on its thread, and the App stops.
  pooler.stop(0ns);
  CHECK_FALSE(c.exec("select 3").ok());
}
