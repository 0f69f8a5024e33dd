// Recipe health: LSN text, the critics' penalties, the rotation verdict, the check's SQL and row.
#include "pool/critics.hpp"

#include <catch2/catch.hpp>

#include <climits>

using namespace std::chrono_literals;
using pggat::Critics;
using pggat::LatencyCritic;
using pggat::ReplicationCritic;
using pggat::pool::format_lsn;
using pggat::pool::HealthSample;
using pggat::pool::judge;
using pggat::pool::parse_lsn;
using pggat::pool::penalty;
using pggat::pool::read_check_row;
using Row = std::vector<std::optional<std::string>>;

namespace {

HealthSample reached(std::chrono::nanoseconds rtt, std::chrono::nanoseconds lag = 0s,
                     bool in_recovery = true) {
  return HealthSample{.reachable = true, .rtt = rtt, .in_recovery = in_recovery, .lag = lag};
}

HealthSample unreachable(std::string error) {
  return HealthSample{.reachable = false, .error = std::move(error)};
}

}  // namespace

TEST_CASE("parse_lsn reads PostgreSQL's high/low hex form", "[pool][critics]") {
  CHECK(parse_lsn("16/B374D848") == std::optional<std::uint64_t>((0x16ull << 32) | 0xB374D848ull));
  CHECK(parse_lsn("0/0") == std::optional<std::uint64_t>(0));
  CHECK(parse_lsn("0/3000060") == std::optional<std::uint64_t>(0x3000060));
  CHECK(parse_lsn("FFFFFFFF/FFFFFFFF") == std::optional<std::uint64_t>(UINT64_MAX));
  CHECK(parse_lsn("ab/cd") == std::optional<std::uint64_t>((0xABull << 32) | 0xCD));
  CHECK(parse_lsn("00000001/00000002") == std::optional<std::uint64_t>((1ull << 32) | 2));

  for (const char* bad :
       {"", "/", "16", "16/", "/B374D848", "16/B374D84G", "G/0", "1/2/3", "123456789/0",
        "0/123456789", " 1/2", "1/2 ", "-1/2", "+1/2", "0x1/2", "1/-2"}) {
    INFO(bad);
    CHECK_FALSE(parse_lsn(bad).has_value());
  }
}

TEST_CASE("format_lsn writes what parse_lsn reads", "[pool][critics]") {
  CHECK(format_lsn((0x16ull << 32) | 0xB374D848ull) == "16/B374D848");
  CHECK(format_lsn(0) == "0/0");
  CHECK(format_lsn(UINT64_MAX) == "FFFFFFFF/FFFFFFFF");
  for (const std::uint64_t lsn :
       {0ull, 1ull, 0xFFFFFFFFull, 0x100000000ull, 0x0123456789ABCDEFull, 0xDEADBEEF00000001ull}) {
    INFO(lsn);
    CHECK(parse_lsn(format_lsn(lsn)) == std::optional<std::uint64_t>(lsn));
  }
}

TEST_CASE("bounded_lag: behind no longer than since it was last seen caught up",
          "[pool][critics]") {
  using pggat::pool::bounded_lag;
  // The first write after a quiet hour: its last replayed commit is an hour
  // old, but the replica was caught up 150ms ago.
  CHECK(bounded_lag(1h, 150ms) == 150ms);
  CHECK(bounded_lag(200ms, 2s) == 200ms);
  CHECK(bounded_lag(2s, std::nullopt) == 2s);  // never seen caught up: as reported
  CHECK(bounded_lag(0s, 1s) == 0s);
}

TEST_CASE("penalty: no critics, no penalty", "[pool][critics]") {
  CHECK(penalty({}, reached(10s, 1h)) == 0);
  CHECK(penalty({}, unreachable("down")) == 0);
}

TEST_CASE("penalty: the latency critic counts whole query thresholds", "[pool][critics]") {
  const Critics critics{.latency = LatencyCritic{.query_threshold = 100ms}};
  CHECK(penalty(critics, reached(0ms)) == 0);
  CHECK(penalty(critics, reached(99ms)) == 0);
  CHECK(penalty(critics, reached(100ms)) == 1);
  CHECK(penalty(critics, reached(350ms)) == 3);
  CHECK(penalty(critics, reached(350ms, 1h)) == 3);  // lag is not its business
  // Zero takes the default, 300ms: never a division by zero.
  const Critics defaults{.latency = LatencyCritic{}};
  CHECK(penalty(defaults, reached(299ms)) == 0);
  CHECK(penalty(defaults, reached(300ms)) == 1);
  CHECK(penalty(defaults, reached(1s)) == 3);
}

TEST_CASE("penalty: the replication critic counts round trip and lag", "[pool][critics]") {
  const Critics critics{
      .replication = ReplicationCritic{.query_threshold = 100ms, .replication_threshold = 2s}};
  CHECK(penalty(critics, reached(50ms, 1s)) == 0);
  CHECK(penalty(critics, reached(250ms, 1s)) == 2);
  CHECK(penalty(critics, reached(250ms, 5s)) == 4);
  CHECK(penalty(critics, reached(0ms, -1s)) == 0);  // a clock a little ahead
  // Defaults: 300ms and 1s.
  const Critics defaults{.replication = ReplicationCritic{}};
  CHECK(penalty(defaults, reached(600ms, 2500ms)) == 4);
  CHECK(penalty(defaults, reached(0ms, 999ms)) == 0);
  // Both critics: each adds its share.
  const Critics both{.latency = LatencyCritic{}, .replication = ReplicationCritic{}};
  CHECK(penalty(both, reached(600ms, 1s)) == 2 + 2 + 1);
}

TEST_CASE("penalty saturates instead of overflowing", "[pool][critics]") {
  const Critics tiny{
      .latency = LatencyCritic{.query_threshold = 1ns},
      .replication = ReplicationCritic{.query_threshold = 1ns, .replication_threshold = 1ns}};
  CHECK(penalty(tiny, reached(1h, 1h)) == INT_MAX);
  const auto forever = std::chrono::nanoseconds::max();
  CHECK(penalty(tiny, reached(forever, forever)) == INT_MAX);
  CHECK(penalty(Critics{.latency = LatencyCritic{}}, reached(forever)) == INT_MAX);
  // Unreachable: last choice whenever any critic looks.
  CHECK(penalty(Critics{.latency = LatencyCritic{}}, unreachable("down")) == INT_MAX);
}

TEST_CASE("judge: replicas leave rotation when unreachable, promoted or lagging",
          "[pool][critics]") {
  const Critics critics{.replication = ReplicationCritic{}};
  SECTION("healthy: in rotation with its penalty, lag and position") {
    HealthSample s = reached(650ms, 200ms);
    s.replay_lsn = 0x3000060;
    const auto h = judge(critics, s, true, 500ms);
    CHECK(h.in_rotation);
    CHECK(h.penalty == 2);
    CHECK(h.lag == 200ms);
    CHECK(h.replay_lsn == 0x3000060);
    CHECK(h.problem.empty());
  }
  SECTION("unreachable: out, the error is the problem") {
    const auto h = judge(critics, unreachable("could not connect to server: refused"), true, 10s);
    CHECK_FALSE(h.in_rotation);
    CHECK(h.problem == "could not connect to server: refused");
    CHECK(judge({}, unreachable(""), true, 10s).problem == "unreachable");
  }
  SECTION("not in recovery: out, writes could land there") {
    const auto h = judge(critics, reached(1ms, 0s, false), true, 10s);
    CHECK_FALSE(h.in_rotation);
    CHECK(h.problem == "not in recovery: promoted, or not a replica");
  }
  SECTION("lag over max_replication_lag: out, naming both") {
    const auto h = judge(critics, reached(1ms, 2345678us), true, 500ms);
    CHECK_FALSE(h.in_rotation);
    CHECK(h.problem == "replication lag 2.345s is over max_replication_lag 500ms");
    CHECK(h.lag == 2345678us);
    CHECK(judge(critics, reached(1ms, 500ms), true, 500ms).in_rotation);  // at the limit: in
    CHECK(judge(critics, reached(1ms, 1h), true, 0s).in_rotation);        // 0: no limit
  }
}

TEST_CASE("judge: other recipes stay in rotation, only penalised", "[pool][critics]") {
  const Critics critics{.latency = LatencyCritic{}};
  const auto slow = judge(critics, reached(900ms), false, 1s);
  CHECK(slow.in_rotation);
  CHECK(slow.penalty == 3);
  const auto primary = judge(critics, reached(1ms, 0s, false), false, 1s);
  CHECK(primary.in_rotation);
  CHECK(primary.problem.empty());
  const auto down = judge(critics, unreachable("refused"), false, 1s);
  CHECK(down.in_rotation);
  CHECK(down.penalty == INT_MAX);
  CHECK(down.problem == "refused");
  CHECK(judge({}, unreachable("refused"), false, 1s).penalty == 0);
}

TEST_CASE("health_check_query: replicas report recovery, position and lag", "[pool][critics]") {
  using pggat::pool::health_check_query;
  CHECK(health_check_query(false) == "SELECT 0");
  const std::string& q = health_check_query(true);
  CHECK_THAT(q, Catch::Matchers::StartsWith("SELECT pg_catalog.pg_is_in_recovery(), "
                                            "pg_catalog.pg_last_wal_replay_lsn(), "));
  CHECK_THAT(q, Catch::Matchers::Contains("pg_last_wal_receive_lsn() IS NULL"));
  CHECK_THAT(q, Catch::Matchers::Contains("pg_last_xact_replay_timestamp()"));
  CHECK(q.find(';') == std::string::npos);  // one statement, one round trip
}

TEST_CASE("read_check_row fills the sample from the check's row", "[pool][critics]") {
  HealthSample s;
  SECTION("a replica") {
    REQUIRE(read_check_row(Row{"t", "16/B374D848", "2.5"}, true, s));
    CHECK(s.in_recovery);
    CHECK(s.replay_lsn == ((0x16ull << 32) | 0xB374D848ull));
    CHECK(s.lag == 2500ms);
    REQUIRE(read_check_row(Row{"t", "0/1", "0"}, true, s));
    CHECK(s.lag == 0s);
    REQUIRE(read_check_row(Row{"t", "0/1", "-0.002"}, true, s));
    CHECK(s.lag == 0s);
  }
  SECTION("a primary asked as a replica: not in recovery, no position") {
    REQUIRE(read_check_row(Row{"f", std::nullopt, "0"}, true, s));
    CHECK_FALSE(s.in_recovery);
    CHECK(s.replay_lsn == 0);
  }
  SECTION("anything else is an error") {
    for (const Row& bad :
         {Row{}, Row{"t", "0/1"}, Row{"x", "0/1", "0"}, Row{"t", "nope", "0"},
          Row{"t", "0/1", "soon"}, Row{std::nullopt, "0/1", "0"}, Row{"t", "0/1", std::nullopt}}) {
      HealthSample b;
      CHECK_FALSE(read_check_row(bad, true, b));
      CHECK_THAT(b.error, Catch::Matchers::StartsWith("health check returned"));
    }
  }
  SECTION("other recipes: any row will do") {
    CHECK(read_check_row(Row{"0"}, false, s));
    CHECK_FALSE(read_check_row(Row{}, false, s));
  }
}
