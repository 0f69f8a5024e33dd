// admin console: the virtual database `pggat` answers PgBouncer's SHOW
// commands with PgBouncer's columns, and refuses what it must.
#include <catch2/catch.hpp>

#include <future>
#include <optional>
#include <string>
#include <vector>

#include "support/client_programs.hpp"
#include "support/pooler.hpp"
#include "support/ports.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"

using namespace pggat::test;
using namespace std::chrono_literals;

namespace {

nlohmann::json admin_config(const nlohmann::json& pool_overrides = {}, const nlohmann::json& recipe_overrides = {}) {
  nlohmann::json pool = {{"mode", "transaction"}, {"name", "app_pool"}};
  if (pool_overrides.is_object()) pool.update(pool_overrides);
  nlohmann::json config = session_config(pool, recipe_overrides);
  config["admin"] = {{"admin_users", {"admin"}}, {"stats_users", {"monitor"}}, {"password", "console-pass"},
                     {"failure_delay", "0s"}};
  return config;
}

std::string console(const InProcessPooler& pggat, const std::string& user = "admin",
                    const std::string& password = "console-pass") {
  return pggat.conninfo("pggat", user, "password=" + password);
}

std::vector<std::string> columns(const PqResult& r) {
  std::vector<std::string> out;
  for (int i = 0; i < PQnfields(r.get()); ++i) out.emplace_back(PQfname(r.get(), i));
  return out;
}

// The row whose first column is `first`; -1 when none.
int row_of(const PqResult& r, const std::string& first) {
  for (int i = 0; i < r.rows(); ++i)
    if (r.value(i, 0) == first) return i;
  return -1;
}

std::string cell(const PqResult& r, int row, const std::string& column) {
  const int c = PQfnumber(r.get(), column.c_str());
  REQUIRE(c >= 0);
  REQUIRE(row >= 0);
  return r.value(row, c);
}

// PgBouncer 1.18's columns (Debian 12's package), as its SHOW prints them.
const std::vector<std::string> pgbouncer_pools = {
    "database",  "user",       "cl_active", "cl_waiting", "cl_active_cancel_req", "cl_waiting_cancel_req",
    "sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used", "sv_tested",
    "sv_login",  "maxwait",    "maxwait_us", "pool_mode"};
const std::vector<std::string> pgbouncer_stats = {
    "database",         "total_xact_count", "total_query_count", "total_received", "total_sent",
    "total_xact_time",  "total_query_time", "total_wait_time",   "avg_xact_count", "avg_query_count",
    "avg_recv",         "avg_sent",         "avg_xact_time",     "avg_query_time", "avg_wait_time"};
const std::vector<std::string> pgbouncer_clients = {
    "type",         "user",         "database", "state",   "addr",         "port",
    "local_addr",   "local_port",   "connect_time", "request_time", "wait", "wait_us",
    "close_needed", "ptr",          "link",     "remote_pid", "tls",        "application_name"};
const std::vector<std::string> pgbouncer_databases = {
    "name",      "host",           "port",            "database",        "force_user",
    "pool_size", "min_pool_size",  "reserve_pool",    "pool_mode",       "max_connections",
    "current_connections", "paused", "disabled"};

}  // namespace

TEST_CASE("admin console: SHOW commands have PgBouncer's columns and pggat's figures", "[admin]") {
  InProcessPooler pggat(admin_config());
  PqConnection app(pggat.conninfo("app", "app", "application_name=busy_app"));
  for (int i = 0; i < 3; ++i) REQUIRE(app.exec("SELECT 1").ok());
  PqConnection admin(console(pggat));

  const PqResult pools = admin.exec("SHOW POOLS");
  REQUIRE(pools.ok());
  CHECK(columns(pools) == pgbouncer_pools);
  const int pool = row_of(pools, "app_pool");
  CHECK(cell(pools, pool, "user") == "app");
  CHECK(cell(pools, pool, "cl_active") == "1");
  CHECK(cell(pools, pool, "cl_waiting") == "0");
  CHECK(cell(pools, pool, "sv_idle") == "1");
  CHECK(cell(pools, pool, "pool_mode") == "transaction");

  const PqResult stats = admin.exec("show stats;");
  REQUIRE(stats.ok());
  CHECK(columns(stats) == pgbouncer_stats);
  const std::string queries = cell(stats, row_of(stats, "app_pool"), "total_query_count");
  for (int i = 0; i < 4; ++i) REQUIRE(app.exec("SELECT 2").ok());
  const PqResult later = admin.exec("SHOW STATS");
  CHECK(std::stoll(cell(later, row_of(later, "app_pool"), "total_query_count")) == std::stoll(queries) + 4);
  CHECK(std::stoll(cell(later, row_of(later, "app_pool"), "total_xact_count")) >= 7);

  const PqResult clients = admin.exec("SHOW CLIENTS");
  REQUIRE(clients.ok());
  CHECK(columns(clients) == pgbouncer_clients);
  REQUIRE(clients.rows() == 2);  // the app and the console itself
  CHECK(cell(clients, 0, "user") == "app");
  CHECK(cell(clients, 0, "database") == "app");
  CHECK(cell(clients, 0, "addr") == "127.0.0.1");
  CHECK(cell(clients, 0, "local_port") == std::to_string(pggat.port()));
  CHECK(cell(clients, 0, "application_name") == "busy_app");
  CHECK(cell(clients, 1, "user") == "admin");
  CHECK(cell(clients, 1, "database") == "pggat");

  const PqResult databases = admin.exec("SHOW DATABASES");
  REQUIRE(databases.ok());
  CHECK(columns(databases) == pgbouncer_databases);
  const int db = row_of(databases, "app_pool");
  const std::string pg = PostgresServer::instance().address();
  CHECK(cell(databases, db, "host") + ":" + cell(databases, db, "port") == pg);
  CHECK(cell(databases, db, "database") == "app");
  CHECK(cell(databases, db, "pool_size") == "10");

  // The app's one server: idle between its transactions, lent inside one.
  const std::string backend_pid = app.exec("SELECT pg_backend_pid()").value();
  // The server comes back once its reply is written, a moment after the
  // client may have read it.
  std::optional<PqResult> shown;
  CHECK(eventually([&] {
    shown.emplace(admin.exec("SHOW SERVERS"));
    return shown->ok() && shown->rows() == 1 && shown->value(0, 3) == "idle";
  }));
  const PqResult& idle_servers = *shown;
  REQUIRE(idle_servers.ok());
  CHECK(columns(idle_servers) == pgbouncer_clients);  // PgBouncer's SHOW SERVERS has the same
  REQUIRE(idle_servers.rows() == 1);
  CHECK(cell(idle_servers, 0, "type") == "S");
  CHECK(cell(idle_servers, 0, "database") == "app_pool");
  CHECK(cell(idle_servers, 0, "user") == "app");
  CHECK(cell(idle_servers, 0, "state") == "idle");
  CHECK(cell(idle_servers, 0, "remote_pid") == backend_pid);
  REQUIRE(app.exec("BEGIN").ok());
  const PqResult busy_servers = admin.exec("SHOW SERVERS");
  CHECK(cell(busy_servers, 0, "state") == "active");
  CHECK(cell(busy_servers, 0, "link") == cell(clients, 0, "ptr"));
  REQUIRE(app.exec("COMMIT").ok());

  const PqResult version = admin.exec("SHOW VERSION");
  REQUIRE(version.ok());
  CHECK(columns(version) == std::vector<std::string>{"version"});
  CHECK(version.value().starts_with("pggat "));

  const PqResult config = admin.exec("SHOW CONFIG");
  REQUIRE(config.ok());
  CHECK(columns(config) == std::vector<std::string>{"key", "value", "default", "changeable"});
  CHECK(cell(config, row_of(config, "admin_users"), "value") == "admin");

  const PqResult lists = admin.exec("SHOW LISTS");
  REQUIRE(lists.ok());
  CHECK(cell(lists, row_of(lists, "used_clients"), "items") == "2");

  // A stats user reads the same.
  PqConnection monitor(console(pggat, "monitor"));
  CHECK(columns(monitor.exec("SHOW POOLS")) == pgbouncer_pools);
}

TEST_CASE("admin console: psql reads SHOW POOLS with its header", "[admin]") {
  InProcessPooler pggat(admin_config());
  const RunResult r = run_client({pg_program("psql"), console(pggat), "-X", "-w", "-A", "-c", "SHOW POOLS"});
  INFO(r.describe());
  REQUIRE(r.ok());
  std::string header;
  for (const auto& c : pgbouncer_pools) header += (header.empty() ? "" : "|") + c;
  CHECK(r.out.starts_with(header + "\n"));
  CHECK(r.out.find("app_pool|app|") != std::string::npos);
}

TEST_CASE("admin console: wrong passwords, outsiders, stats users and bad commands get clear errors", "[admin]") {
  InProcessPooler pggat(admin_config());
  CHECK_THAT(connection_error(console(pggat, "admin", "wrong")),
             Catch::Contains("password authentication failed"));
  // Right password, but not a console user.
  CHECK_THAT(connection_error(console(pggat, "app")), Catch::Contains("may not use the admin console"));

  PqConnection monitor(console(pggat, "monitor"));
  const PqResult refused = monitor.exec("SHUTDOWN");
  CHECK(refused.sqlstate() == "42501");
  CHECK_THAT(refused.error(), Catch::Contains("admin access needed"));

  PqConnection admin(console(pggat));
  const PqResult unknown = admin.exec("SHOW NONSENSE");
  CHECK(unknown.sqlstate() == "42601");
  CHECK_THAT(unknown.error(), Catch::Contains("use SHOW HELP"));
  CHECK(admin.exec("SELECT 1").sqlstate() == "42601");
  CHECK(admin.exec("SUSPEND").sqlstate() == "0A000");
  CHECK(monitor.exec("RELOAD").sqlstate() == "42501");
  const PqResult no_pool = admin.exec("PAUSE nosuch");
  CHECK(no_pool.sqlstate() == "3D000");
  CHECK_THAT(no_pool.error(), Catch::Contains("no such database: nosuch"));
  // The extended protocol is refused, and the connection goes on.
  const PqResult extended{PQexecParams(admin.get(), "SHOW POOLS", 0, nullptr, nullptr, nullptr, nullptr, 0)};
  CHECK(extended.sqlstate() == "0A000");
  CHECK(admin.exec("SHOW VERSION").ok());
  // Clients of other databases are routed as before.
  PqConnection app(pggat.conninfo());
  CHECK(app.exec("SELECT 1").ok());
}

TEST_CASE("admin console: SHUTDOWN stops pggat", "[admin]") {
  InProcessPooler pggat(admin_config());
  PqConnection admin(console(pggat));
  const PqResult r = admin.exec("SHUTDOWN");
  CHECK(r.ok());
  CHECK(eventually([&] { return tcp_connect_error(pggat.port()) != 0; }));
}

TEST_CASE("admin console: the config needs users and credentials", "[admin]") {
  pggat::Registry registry;
  pggat::register_builtins(registry);
  nlohmann::json config = admin_config();
  config["admin"].erase("password");
  CHECK_THROWS_WITH(pggat::load_config(config, registry),
                    Catch::Contains("admin") && Catch::Contains("\"password\" and \"auth_file\""));
  config = admin_config();
  config["admin"]["admin_users"] = nlohmann::json::array();
  config["admin"].erase("stats_users");
  CHECK_THROWS_WITH(pggat::load_config(config, registry), Catch::Contains("admin_users"));
}

TEST_CASE("admin console: PAUSE under pgbench holds clients without an error, RESUME loses nothing", "[admin]") {
  PostgresServer& pg = PostgresServer::instance();
  pg.execute("DROP TABLE IF EXISTS pause_log; CREATE TABLE pause_log (client int); "
             "GRANT ALL ON pause_log TO app",
             "app");
  // Held clients wait longer than the test takes; the servers are named so
  // PostgreSQL's view of them can be told from other tests' leftovers.
  InProcessPooler pggat(admin_config({{"client_acquire_timeout", "60s"}},
                                     {{"parameters", {{"application_name", "pause_test"}}}}));
  TempDir dir;
  write_file(dir / "insert.sql", "INSERT INTO pause_log VALUES (:client_id);\n");
  auto bench = std::async(std::launch::async, [&] {
    return run_pgbench(pggat.port(), {"-n", "-c", "4", "-j", "2", "-t", "1500", "-f", dir / "insert.sql"}, 120s);
  });
  const auto pool_stats = [&] { return pggat.pools().at(0).stats; };
  REQUIRE(eventually([&] { return pool_stats().transactions >= 200; }));

  PqConnection admin(console(pggat));
  const PqResult paused = admin.exec("PAUSE");
  REQUIRE(paused.ok());
  // Done means no server is left, on pggat's side and on PostgreSQL's.
  const PqResult pools = admin.exec("SHOW POOLS");
  CHECK(cell(pools, 0, "sv_active") == "0");
  CHECK(cell(pools, 0, "sv_idle") == "0");
  CHECK(eventually([&] {
    return pg.execute("SELECT count(*) FROM pg_stat_activity"
                      " WHERE application_name IN ('pause_test', 'pgbench')")[0][0].as<long>() == 0;
  }));
  // pgbench's clients are held, not failed.
  CHECK(eventually([&] { return pool_stats().clients_waiting == 4; }));
  CHECK(cell(admin.exec("SHOW DATABASES"), 0, "paused") == "1");
  const long rows_while_paused = pg.execute("SELECT count(*) FROM pause_log", "app")[0][0].as<long>();
  CHECK(rows_while_paused < 6000);

  REQUIRE(admin.exec("RESUME").ok());
  const RunResult run = bench.get();
  INFO(run.describe());
  REQUIRE(run.ok());
  CHECK(processed_line(run.out) == "number of transactions actually processed: 6000/6000");
  CHECK(run.out.find("number of failed transactions: 0 (0.000%)") != std::string::npos);
  CHECK(pg.execute("SELECT count(*) FROM pause_log", "app")[0][0].as<long>() == 6000);
  CHECK(cell(admin.exec("SHOW DATABASES"), 0, "paused") == "0");
}

TEST_CASE("admin console: KILL closes a pool's clients and holds new ones until RESUME", "[admin]") {
  InProcessPooler pggat(admin_config());
  PqConnection victim(pggat.conninfo("app"));
  REQUIRE(victim.exec("BEGIN").ok());
  PqConnection admin(console(pggat));

  CHECK(admin.exec("KILL nosuch").sqlstate() == "3D000");
  CHECK(admin.exec("KILL").sqlstate() == "42601");  // as PgBouncer: it needs a database
  REQUIRE(admin.exec("KILL app_pool").ok());
  // Its client is gone, in the middle of its transaction; the console is not.
  CHECK(eventually([&] { return !victim.exec("SELECT 1").ok(); }));
  CHECK(PQstatus(victim.get()) == CONNECTION_BAD);
  CHECK(cell(admin.exec("SHOW DATABASES"), 0, "paused") == "1");
  CHECK(eventually([&] { return pggat.pools().at(0).stats.servers_active + pggat.pools().at(0).stats.servers_idle == 0; }));

  // A new client waits for RESUME, and then runs.
  auto later = std::async(std::launch::async, [&] {
    PqConnection c(pggat.conninfo("app"));
    return c.exec("SELECT 42").value();
  });
  REQUIRE(eventually([&] { return pggat.pools().at(0).stats.clients_waiting == 1; }));
  REQUIRE(admin.exec("RESUME").ok());
  CHECK(later.get() == "42");
}
