// The replica harness itself: two streaming replicas of the test primary behave as promised.
#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "support/pq.hpp"
#include "support/replica_set.hpp"

namespace {

using pggat::test::Replica;
using pggat::test::ReplicaSet;
using Clock = std::chrono::steady_clock;

// A fresh table on the primary, that the app role may write.
void fresh_table(const ReplicaSet& replicas, const std::string& table) {
  replicas.primary().execute("DROP TABLE IF EXISTS " + table, "app");
  replicas.primary().execute("CREATE TABLE " + table + " (id int PRIMARY KEY, note text)", "app");
  replicas.primary().execute("GRANT ALL ON " + table + " TO app", "app");
}

// The note of row id on a server (primary or replica), "" when there is none.
template <typename Server>
std::string note_of(const Server& server, const std::string& table, int id) {
  const auto result =
      server.execute("SELECT note FROM " + table + " WHERE id = " + std::to_string(id), "app");
  return result.empty() ? "" : result[0][0].template as<std::string>();
}

// Until the replica has received (not necessarily replayed) WAL up to lsn.
void wait_for_receive(const Replica& replica, const std::string& lsn) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!replica
              .execute("SELECT coalesce(pg_last_wal_receive_lsn() >= '" + lsn +
                       "'::pg_lsn, false)")[0][0]
              .as<bool>()) {
    if (Clock::now() > deadline) FAIL("replica " << replica.slot() << " never received " << lsn);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
  }
}

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

}  // namespace

TEST_CASE("two replicas of the test primary stream from it", "[replicas]") {
  const auto asked = Clock::now();
  auto& replicas = ReplicaSet::instance();
  WARN("starting " << replicas.size() << " replicas took " << replicas.startup_time().count()
                   << " ms (this call: " << since(asked).count() << " ms)");
  REQUIRE(replicas.size() == 2);
  CHECK(&replicas == &ReplicaSet::instance());

  std::set<std::uint16_t> ports{replicas.primary().port()};
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    const Replica& replica = replicas[i];
    CHECK(replica.host() == "127.0.0.1");
    CHECK(replica.address() == "127.0.0.1:" + std::to_string(replica.port()));
    ports.insert(replica.port());
    CHECK(replica.execute("SELECT pg_is_in_recovery()")[0][0].as<bool>());
    const auto row = replicas.primary().execute(
        "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = '" +
        replica.slot() + "'");
    REQUIRE(row.size() == 1);
    CHECK(row[0][0].as<std::string>() == "streaming");
    const auto slot = replicas.primary().execute(
        "SELECT active FROM pg_replication_slots WHERE slot_name = '" + replica.slot() + "'");
    REQUIRE(slot.size() == 1);
    CHECK(slot[0][0].as<bool>());
  }
  CHECK(ports.size() == 3);  // each its own port
  CHECK_FALSE(replicas.primary().execute("SELECT pg_is_in_recovery()")[0][0].as<bool>());

  SECTION("the roles log in to a replica with their passwords, over TCP and the socket") {
    for (const auto& role : {pggat::test::app_role, pggat::test::md5_role, pggat::test::plain_role}) {
      pggat::test::PqConnection tcp(replicas[0].conninfo(role.user, role.password));
      CHECK(tcp.exec("SELECT current_user").value() == role.user);
      pggat::test::PqConnection socket(replicas[1].socket_conninfo(role.user, role.password));
      CHECK(socket.exec("SELECT current_user").value() == role.user);
    }
  }
}

TEST_CASE("a row committed on the primary shows up on both replicas", "[replicas]") {
  auto& replicas = ReplicaSet::instance();
  const std::string table = "replica_harness_rows";
  fresh_table(replicas, table);
  pggat::test::PqConnection app(replicas.primary().conninfo("app", "app-pass"));
  for (int id = 1; id <= 3; ++id) {
    const std::string note = "row " + std::to_string(id);
    REQUIRE(app.exec("INSERT INTO " + table + " VALUES (" + std::to_string(id) + ", '" + note +
                     "')")
                .ok());
    const std::string lsn = replicas.primary_lsn();
    replicas.wait_for_replay(lsn);
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      CHECK(note_of(replicas[i], table, id) == note);
    }
  }
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    CHECK(replicas[i].execute("SELECT count(*) FROM " + table, "app")[0][0].as<int>() == 3);
  }
}

TEST_CASE("a write on a replica fails with SQLSTATE 25006", "[replicas]") {
  auto& replicas = ReplicaSet::instance();
  const std::string table = "replica_harness_writes";
  fresh_table(replicas, table);
  replicas.wait_for_replay(replicas.primary_lsn());
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    DYNAMIC_SECTION("replica " << i) {
      pggat::test::PqConnection app(replicas[i].conninfo("app", "app-pass"));
      const auto insert = app.exec("INSERT INTO " + table + " VALUES (1, 'no')");
      CHECK(insert.sqlstate() == "25006");
      CHECK(app.exec("CREATE TABLE replica_harness_never (x int)").sqlstate() == "25006");
      CHECK(app.exec("UPDATE " + table + " SET note = 'no'").sqlstate() == "25006");
      // A read on the same connection still works.
      CHECK(app.exec("SELECT count(*) FROM " + table).value() == "0");
    }
  }
  CHECK(note_of(replicas.primary(), table, 1).empty());
}

TEST_CASE("a stopped replica refuses connections and streams again when restarted",
          "[replicas]") {
  auto& replicas = ReplicaSet::instance();
  const std::string table = "replica_harness_restart";
  fresh_table(replicas, table);
  Replica& victim = replicas[0];
  const std::uint16_t port = victim.port();
  const std::string conninfo = victim.conninfo("app", "app-pass");
  {
    pggat::test::ReplicaStopGuard stopped(victim);
    CHECK_FALSE(victim.running());
    CHECK_FALSE(pggat::test::connection_error(conninfo).empty());
    // The primary and the other replica carry on; the stopped one's slot
    // keeps its WAL.
    replicas.primary().execute("INSERT INTO " + table + " VALUES (1, 'while down')", "app");
    const std::string lsn = replicas.primary_lsn();
    replicas[1].wait_for_replay(lsn);
    CHECK(note_of(replicas[1], table, 1) == "while down");
    const auto slot = replicas.primary().execute(
        "SELECT active FROM pg_replication_slots WHERE slot_name = '" + victim.slot() + "'");
    REQUIRE(slot.size() == 1);
    CHECK_FALSE(slot[0][0].as<bool>());
  }
  CHECK(victim.running());
  CHECK(victim.port() == port);
  CHECK(pggat::test::connection_error(conninfo).empty());
  CHECK(victim.execute("SELECT pg_is_in_recovery()")[0][0].as<bool>());
  victim.wait_for_replay(replicas.primary_lsn());
  CHECK(note_of(victim, table, 1) == "while down");
  // And it keeps streaming what comes after.
  replicas.primary().execute("INSERT INTO " + table + " VALUES (2, 'after')", "app");
  replicas.wait_for_replay(replicas.primary_lsn());
  CHECK(note_of(victim, table, 2) == "after");
}

TEST_CASE("a replica with recovery_min_apply_delay lags by that delay", "[replicas]") {
  auto& replicas = ReplicaSet::instance();
  const std::string table = "replica_harness_delay";
  fresh_table(replicas, table);
  replicas.wait_for_replay(replicas.primary_lsn());
  const Replica& delayed = replicas[1];
  const Replica& prompt = replicas[0];
  constexpr auto delay = std::chrono::milliseconds(2000);
  {
    pggat::test::ApplyDelayGuard guard(delayed, delay);
    CHECK(delayed.execute("SHOW recovery_min_apply_delay")[0][0].as<std::string>() == "2s");
    CHECK(prompt.execute("SHOW recovery_min_apply_delay")[0][0].as<std::string>() == "0");

    const auto committed = Clock::now();
    replicas.primary().execute("INSERT INTO " + table + " VALUES (1, 'fresh')", "app");
    const std::string lsn = replicas.primary_lsn();
    prompt.wait_for_replay(lsn);
    CHECK(note_of(prompt, table, 1) == "fresh");
    // The delayed one has the commit but does not apply it yet.
    wait_for_receive(delayed, lsn);
    const auto looked = since(committed);
    const std::string lagging_note = note_of(delayed, table, 1);
    const std::string lagging_lsn = delayed.replay_lsn();
    REQUIRE(looked < delay);  // else the machine is too slow for this check to mean anything
    CHECK(lagging_note.empty());
    CHECK(replicas.primary()
              .execute("SELECT '" + lagging_lsn + "'::pg_lsn < '" + lsn + "'::pg_lsn")[0][0]
              .as<bool>());

    delayed.wait_for_replay(lsn);
    const auto applied = since(committed);
    CHECK(note_of(delayed, table, 1) == "fresh");
    CHECK(applied >= delay - std::chrono::milliseconds(100));  // clock granularity
  }
  CHECK(delayed.execute("SHOW recovery_min_apply_delay")[0][0].as<std::string>() == "0");
  // Reset: a fresh row is applied well before the old delay.
  const auto committed = Clock::now();
  replicas.primary().execute("INSERT INTO " + table + " VALUES (2, 'prompt again')", "app");
  delayed.wait_for_replay(replicas.primary_lsn());
  CHECK(since(committed) < delay);
  CHECK(note_of(delayed, table, 2) == "prompt again");
}
