// Admin console commands: parsing and the PgBouncer-shaped tables.
#include <catch2/catch.hpp>

#include "admin/commands.hpp"

using pggat::admin::Command;
using pggat::admin::parse_command;

namespace {

pggat::PoolSnapshot snapshot() {
  pggat::PoolSnapshot p;
  p.name = "app_pool";
  p.user = "app";
  p.database = "app";
  p.description.mode = "transaction";
  p.stats.clients = 5;
  p.stats.clients_waiting = 2;
  p.stats.servers_active = 3;
  p.stats.servers_idle = 1;
  p.stats.longest_wait = std::chrono::microseconds(2'500'001);
  p.stats.transactions = 120;
  p.stats.queries = 240;
  p.stats.transaction_time.observe(std::chrono::milliseconds(3));
  p.stats.transaction_time.observe(std::chrono::milliseconds(5));
  pggat::RecipeStats r;
  r.address = "[::1]:5433";
  r.max_connections = 20;
  r.servers_open = 4;
  p.recipes.push_back(r);
  return p;
}

std::string cell(const pggat::admin::Table& t, std::size_t row, const std::string& column) {
  for (std::size_t i = 0; i < t.columns.size(); ++i)
    if (t.columns[i].name == column) return t.rows.at(row).at(i).value_or("NULL");
  FAIL("no column " << column);
  return {};
}

}  // namespace

TEST_CASE("admin commands parse as PgBouncer's console reads them", "[admin]") {
  const auto show = parse_command("  show   pools ; ");
  REQUIRE(show);
  CHECK(show->kind == Command::Kind::show);
  CHECK(show->what == "POOLS");
  const auto pause = parse_command("PAUSE app_pool");
  REQUIRE(pause);
  CHECK(pause->kind == Command::Kind::pause);
  CHECK(pause->what == "app_pool");  // names keep their case
  CHECK(parse_command("pause")->what.empty());
  CHECK_FALSE(parse_command("SHOW"));
  CHECK_FALSE(parse_command("SELECT 1"));
  CHECK_FALSE(parse_command("KILL"));           // needs a database
  CHECK_FALSE(parse_command("SHUTDOWN now"));   // takes none
  CHECK_FALSE(parse_command("SHOW POOLS extra words"));
  CHECK(pggat::admin::read_only(*show));
  CHECK_FALSE(pggat::admin::read_only(*pause));
}

TEST_CASE("admin tables carry the pool's figures in PgBouncer's units", "[admin]") {
  const auto pools = pggat::admin::show_pools({snapshot()});
  REQUIRE(pools.rows.size() == 1);
  CHECK(cell(pools, 0, "cl_active") == "3");
  CHECK(cell(pools, 0, "cl_waiting") == "2");
  CHECK(cell(pools, 0, "maxwait") == "2");
  CHECK(cell(pools, 0, "maxwait_us") == "500001");

  const auto stats = pggat::admin::show_stats({snapshot()}, std::chrono::seconds(60));
  CHECK(cell(stats, 0, "total_xact_count") == "120");
  CHECK(cell(stats, 0, "avg_xact_count") == "2");   // per second over the minute
  CHECK(cell(stats, 0, "total_xact_time") == "8000");
  CHECK(cell(stats, 0, "avg_xact_time") == "4000");  // µs per observed transaction

  const auto databases = pggat::admin::show_databases({snapshot()});
  CHECK(cell(databases, 0, "host") == "::1");
  CHECK(cell(databases, 0, "port") == "5433");
  CHECK(cell(databases, 0, "pool_size") == "20");
  CHECK(cell(databases, 0, "current_connections") == "4");
}
