// Live reload: a changed config is applied without dropping clients; what
// did not change keeps its servers; a broken config changes nothing.
#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "pggat/config.hpp"
#include "support/client_programs.hpp"
#include "support/pggat_process.hpp"
#include "support/pooler.hpp"
#include "support/ports.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"

using namespace pggat::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// A route for clients of `database` to a transaction pool named `name`
// (recipe: the test PostgreSQL's app database, at most `servers` servers).
json pool_route(const std::string& database, const std::string& name, const json& recipe_overrides = {},
                int servers = 10) {
  json recipe = {{"address", PostgresServer::instance().address()},
                 {"username", "app"},
                 {"password", "app-pass"},
                 {"database", "app"},
                 {"max_connections", servers}};
  if (recipe_overrides.is_object()) recipe.update(recipe_overrides);
  return {{"match", {{"matcher", "database"}, {"database", database}}},
          {"handle",
           {{"handler", "pool"},
            {"pool", {{"pool", "basic"}, {"mode", "transaction"}, {"name", name}, {"client_acquire_timeout", "60s"}}},
            {"recipe", recipe}}}};
}

json config_with(const std::vector<json>& routes, const std::string& listen = "127.0.0.1:0") {
  json config = {{"servers", {{{"listen", {{{"address", listen}}}}, {"routes", routes}}}}};
  config["admin"] = {{"admin_users", {"admin"}}, {"password", "console-pass"}, {"failure_delay", "0s"}};
  return config;
}

std::vector<std::string> pool_names(InProcessPooler& pggat) {
  std::vector<std::string> out;
  for (const auto& p : pggat.pools()) out.push_back(p.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::string one_value(PqConnection& conn, const std::string& sql) {
  const PqResult r = conn.exec(sql);
  REQUIRE(r.ok());
  return r.value(0, 0);
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("live reload: a changed recipe is taken in place, an unchanged pool keeps its server, a new route serves",
          "[reload]") {
  InProcessPooler pggat(config_with({pool_route("app", "app_pool", {{"parameters", {{"work_mem", "1111kB"}}}}),
                                     pool_route("keep", "keep_pool", {}, 1)}));
  PqConnection app(pggat.conninfo("app"));
  REQUIRE(one_value(app, "SHOW work_mem") == "1111kB");
  PqConnection keep(pggat.conninfo("keep"));
  const std::string keep_pid = one_value(keep, "SELECT pg_backend_pid()");

  REQUIRE_FALSE(pggat.reload(config_with({pool_route("app", "app_pool", {{"parameters", {{"work_mem", "2222kB"}}}}),
                                          pool_route("keep", "keep_pool", {}, 1), pool_route("fresh", "fresh_pool")}))
                     .has_value());

  // The same client connection, its next transaction on the changed recipe.
  CHECK(one_value(app, "SHOW work_mem") == "2222kB");
  // keep_pool's one server is the one it had.
  CHECK(one_value(keep, "SELECT pg_backend_pid()") == keep_pid);
  CHECK(pggat.pools().size() == 3);
  CHECK(pool_names(pggat) == std::vector<std::string>{"app_pool", "fresh_pool", "keep_pool"});
  PqConnection fresh(pggat.conninfo("fresh"));
  CHECK(one_value(fresh, "SELECT 1") == "1");
  PqConnection later(pggat.conninfo("app"));
  CHECK(one_value(later, "SHOW work_mem") == "2222kB");
  // The replaced recipe's server was closed, not kept idle beside the new one.
  for (const auto& p : pggat.pools())
    if (p.name == "app_pool") CHECK(p.stats.servers_idle + p.stats.servers_active <= 2);
}

TEST_CASE("live reload: a changed pool gets a new pool; the old one serves its clients until they leave, then closes",
          "[reload]") {
  PostgresServer& pg = PostgresServer::instance();
  const auto servers_named = [&](const std::string& name) {
    return pg.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + name + "'")[0][0]
        .as<long>();
  };
  json before = pool_route("app", "app_pool", {{"parameters", {{"application_name", "reload_old"}}}});
  before["handle"]["pool"]["mode"] = "session";
  InProcessPooler pggat(config_with({before}));
  std::optional<PqConnection> old_client(std::in_place, pggat.conninfo("app"));
  REQUIRE(old_client->exec("BEGIN").ok());
  REQUIRE(one_value(*old_client, "SELECT current_setting('application_name')") == "reload_old");

  json after = pool_route("app", "app_pool", {{"parameters", {{"application_name", "reload_new"}}}});
  after["handle"]["pool"]["mode"] = "session";
  after["handle"]["pool"]["client_acquire_timeout"] = "30s";  // a pool setting: a new pool
  REQUIRE_FALSE(pggat.reload(config_with({after})).has_value());

  // The old client's transaction goes on where it was.
  CHECK(one_value(*old_client, "SELECT current_setting('application_name')") == "reload_old");
  REQUIRE(old_client->exec("COMMIT").ok());
  PqConnection new_client(pggat.conninfo("app"));
  CHECK(one_value(new_client, "SELECT current_setting('application_name')") == "reload_new");
  // The old pool is listed while it serves its client.
  CHECK(pool_names(pggat) == std::vector<std::string>{"app_pool", "app_pool (retiring)"});
  CHECK(servers_named("reload_old") == 1);
  // Once its last client is gone the old pool stops and closes its server.
  old_client.reset();
  CHECK(eventually([&] { return servers_named("reload_old") == 0; }));
  CHECK(pool_names(pggat) == std::vector<std::string>{"app_pool"});
  CHECK(servers_named("reload_new") == 1);
}

TEST_CASE("live reload: a broken config or an address that cannot be bound changes nothing", "[reload]") {
  const json good = config_with({pool_route("app", "app_pool")});
  InProcessPooler pggat(good);
  PqConnection client(pggat.conninfo("app"));

  // A config error comes back from RELOAD with where it is, and is logged.
  json broken = good;
  broken["servers"][0]["routes"][0]["handle"]["pool"]["mode"] = "sometimes";
  pggat.set_config(broken);
  PqConnection admin(pggat.conninfo("pggat", "admin", "password=console-pass"));
  const PqResult refused = admin.exec("RELOAD");
  CHECK_FALSE(refused.ok());
  CHECK(refused.sqlstate() == "F0000");
  CHECK_THAT(refused.error(), Catch::Contains("config error") && Catch::Contains("mode") &&
                                  Catch::Contains("sometimes"));
  CHECK(one_value(client, "SELECT 1") == "1");

  // A new listen address that is taken: refused before anything changes.
  const std::uint16_t taken_port = free_tcp_port();
  InProcessPooler squatter(config_with({pool_route("app", "squatter")}, "127.0.0.1:" + std::to_string(taken_port)));
  json two_listeners = config_with({pool_route("app", "app_pool"), pool_route("other", "other_pool")});
  two_listeners["servers"][0]["listen"].push_back({{"address", "127.0.0.1:" + std::to_string(taken_port)}});
  const auto error = pggat.reload(two_listeners);
  REQUIRE(error.has_value());
  CHECK_THAT(*error, Catch::Contains("cannot listen on \"127.0.0.1:" + std::to_string(taken_port)));
  CHECK(pool_names(pggat) == std::vector<std::string>{"app_pool"});
  CHECK(one_value(client, "SELECT 1") == "1");

  // And RELOAD with a good config applies it.
  json more = config_with({pool_route("app", "app_pool"), pool_route("other", "other_pool")});
  pggat.set_config(more);
  CHECK(admin.exec("RELOAD").ok());
  CHECK(pool_names(pggat) == std::vector<std::string>{"app_pool", "other_pool"});
  PqConnection other(pggat.conninfo("other"));
  CHECK(one_value(other, "SELECT 1") == "1");
  CHECK(one_value(client, "SELECT 1") == "1");

  // SHOW CONFIG says which settings a reload changes.
  const PqResult settings = admin.exec("SHOW CONFIG");
  REQUIRE(settings.ok());
  const auto changeable = [&](const std::string& key) {
    for (int i = 0; i < settings.rows(); ++i)
      if (settings.value(i, 0) == key) return settings.value(i, 3);
    return std::string("(no such key)");
  };
  CHECK(changeable("threads") == "no");
  CHECK(changeable("thread_fill") == "no");
  CHECK(changeable("metrics.listen") == "no");
  CHECK(changeable("shutdown_timeout") == "yes");
  CHECK(changeable("listen") == "yes");
}

TEST_CASE("live reload under pgbench -T 15: --watch, a broken file and SIGHUP, with 0 failed transactions",
          "[reload][cli]") {
  PostgresServer& pg = PostgresServer::instance();
  pg.execute("DROP TABLE IF EXISTS reload_log; CREATE TABLE reload_log (client int); "
             "GRANT ALL ON reload_log TO app",
             "app");
  TempDir dir;
  // pgbench connects to database "app"; a second route is added and a recipe changed while it runs.
  // pgbench sets application_name itself: the recipes differ in work_mem.
  const auto make = [](std::uint16_t port, const std::string& work_mem, bool extra_route) {
    std::vector<json> routes{pool_route("app", "app_pool", {{"parameters", {{"work_mem", work_mem}}}})};
    if (extra_route) routes.push_back(pool_route("other", "other_pool"));
    return config_with(routes, "127.0.0.1:" + std::to_string(port));
  };
  auto pggat = start_pggat(PGGAT_BINARY, dir, [&](std::uint16_t port) { return make(port, "1111kB", false); },
                           {"--watch"});
  const std::string config_file = dir / "pggat.json";
  write_file(dir / "insert.sql", "INSERT INTO reload_log VALUES (:client_id);\n");
  const auto rows = [&] { return pg.execute("SELECT count(*) FROM reload_log", "app")[0][0].as<long>(); };
  auto bench = std::async(std::launch::async, [&] {
    return run_pgbench(pggat->port(), {"-n", "-c", "4", "-j", "2", "-T", "15", "-f", dir / "insert.sql"}, 120s);
  });
  REQUIRE(eventually([&] { return rows() >= 300; }, 60s));

  // 1. --watch sees the file change.
  write_file(config_file, make(pggat->port(), "2222kB", true).dump(2));
  REQUIRE(eventually([&] { return count_of(pggat->log(), "reloaded the config") == 1; }, 20s));
  // 2. A broken file is refused; the running config stays.
  write_file(config_file, "{\"servers\": [");
  REQUIRE(eventually([&] { return pggat->log().find("reload refused") != std::string::npos; }, 20s));
  // 3. SIGHUP, with the recipe changed again.
  write_file(config_file, make(pggat->port(), "3333kB", true).dump(2));
  pggat->process().send_signal(SIGHUP);
  REQUIRE(eventually([&] { return count_of(pggat->log(), "reloaded the config") >= 2; }, 20s));
  // All of it while pgbench ran.
  CHECK(bench.wait_for(0s) == std::future_status::timeout);
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(pggat->port()) + " user=app connect_timeout=10";
  {
    PqConnection client(conninfo + " dbname=app");
    CHECK(one_value(client, "SHOW work_mem") == "3333kB");
  }

  const RunResult run = bench.get();
  INFO(run.describe());
  INFO(pggat->log());
  REQUIRE(run.ok());
  // Every transaction pgbench counts is a row, and none failed.
  const long processed = transactions_processed(run.out);
  WARN(processed << " transactions through two reloads and a refused one");
  CHECK(processed > 0);
  CHECK(rows() == processed);
  CHECK(run.out.find("number of failed transactions: 0 (0.000%)") != std::string::npos);
  CHECK(pggat->log().find("config error") != std::string::npos);
  PqConnection other(conninfo + " dbname=other");
  CHECK(one_value(other, "SELECT 1") == "1");
}

TEST_CASE("live reload for a failover: PAUSE, re-point the recipe, RELOAD, RESUME; the held client runs on the new one",
          "[reload]") {
  const json before = config_with({pool_route("app", "app_pool", {{"parameters", {{"work_mem", "1111kB"}}}})});
  InProcessPooler pggat(before);
  PqConnection client(pggat.conninfo("app"));
  REQUIRE(one_value(client, "SHOW work_mem") == "1111kB");
  PqConnection admin(pggat.conninfo("pggat", "admin", "password=console-pass"));
  REQUIRE(admin.exec("PAUSE").ok());

  // Held: it waits for a server while the pool is paused.
  auto held = std::async(std::launch::async, [&] { return one_value(client, "SHOW work_mem"); });
  REQUIRE(eventually([&] { return pggat.pools().at(0).stats.clients_waiting == 1; }));
  pggat.set_config(config_with({pool_route("app", "app_pool", {{"parameters", {{"work_mem", "2222kB"}}}})}));
  REQUIRE(admin.exec("RELOAD").ok());
  CHECK(held.wait_for(0s) == std::future_status::timeout);  // still held: a reload does not resume
  REQUIRE(admin.exec("RESUME").ok());
  CHECK(held.get() == "2222kB");
}

TEST_CASE("live reload: a listener is added and removed; its client stays, the others are not touched", "[reload]") {
  const json one = config_with({pool_route("app", "app_pool")});
  InProcessPooler pggat(one);
  PqConnection on_first(pggat.conninfo("app"));
  const std::uint16_t second_port = free_tcp_port();
  json two = one;
  two["servers"][0]["listen"].push_back({{"address", "127.0.0.1:" + std::to_string(second_port)}});
  REQUIRE_FALSE(pggat.reload(two).has_value());
  const std::string second = "host=127.0.0.1 port=" + std::to_string(second_port) + " user=app dbname=app";
  PqConnection on_second(second);
  CHECK(one_value(on_second, "SELECT 1") == "1");

  REQUIRE_FALSE(pggat.reload(one).has_value());
  CHECK(eventually([&] { return tcp_connect_error(second_port) == ECONNREFUSED; }));
  CHECK(one_value(on_second, "SELECT 2") == "2");  // its client stays
  CHECK(one_value(on_first, "SELECT 3") == "3");
  PqConnection again(pggat.conninfo("app"));  // the first listener kept its port
  CHECK(one_value(again, "SELECT 4") == "4");
}
