// metrics: the Prometheus endpoint and App::pools() follow what clients do.
#include <catch2/catch.hpp>

#include <atomic>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pggat/config.hpp"
#include "pggat/registry.hpp"
#include "support/client_programs.hpp"
#include "support/pooler.hpp"
#include "support/ports.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"

using namespace pggat::test;
using namespace std::chrono_literals;

namespace {

nlohmann::json metrics_config(const std::string& mode) {
  nlohmann::json config = session_config({{"mode", mode}, {"name", "app_pool"}});
  config["metrics"] = {{"listen", "127.0.0.1:0"}};
  return config;
}

// The value of the sample `name{...}` whose labels include every one of
// `labels` (each written as in the text: pool="app_pool"); -1 when none.
double sample(const std::string& text, const std::string& name,
              const std::vector<std::string>& labels = {}) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name + "{") && !line.starts_with(name + " ")) continue;
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != std::string::npos;
    if (!all) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

double pool_sample(const std::string& text, const std::string& name) {
  return sample(text, name, {"pool=\"app_pool\""});
}

std::string scrape(InProcessPooler& pggat) {
  const auto body = http_get(pggat.metrics_address(), "/metrics");
  REQUIRE(body.has_value());
  return *body;
}

}  // namespace

TEST_CASE("metrics: queries, transactions and bytes are counted as clients send them", "[metrics]") {
  const std::string mode = GENERATE("transaction", "session");
  INFO("mode " << mode);
  InProcessPooler pggat(metrics_config(mode));
  REQUIRE_FALSE(pggat.metrics_address().empty());
  PqConnection client(pggat.conninfo());
  REQUIRE(client.exec("SELECT 1").ok());  // the pool has a server from here on

  const std::string before = scrape(pggat);
  for (int i = 0; i < 5; ++i) REQUIRE(client.exec("SELECT " + std::to_string(i)).ok());
  REQUIRE(client.exec("BEGIN").ok());
  REQUIRE(client.exec("SELECT 'in a transaction'").ok());
  REQUIRE(client.exec("COMMIT").ok());
  std::string after;
  const auto delta = [&](const std::string& name) {
    return pool_sample(after, name) - pool_sample(before, name);
  };
  // Bytes are added once the reply is written, which may be just after the
  // client has read it: scraped until the last transaction's are in.
  CHECK(eventually([&] {
    after = scrape(pggat);
    return delta("pggat_pool_received_bytes_total") >= 8 * 14;
  }));
  INFO(after);
  // 5 single queries and one transaction of 3: 8 queries, 6 transactions.
  CHECK(delta("pggat_pool_queries_total") == 8);
  CHECK(delta("pggat_pool_transactions_total") == 6);
  CHECK(delta("pggat_pool_query_seconds_count") == 8);
  CHECK(delta("pggat_pool_transaction_seconds_count") == 6);
  CHECK(delta("pggat_pool_query_seconds_sum") > 0);
  // Each query is at least its 5-byte header plus text; each reply more.
  CHECK(delta("pggat_pool_sent_bytes_total") > delta("pggat_pool_received_bytes_total"));
  CHECK(pool_sample(after, "pggat_pool_simple_current") == 1);
  CHECK(pool_sample(after, "pggat_pool_clients_waiting") == 0);
  CHECK(sample(after, "pggat_pool_simple_accepted", {"pool=\"app_pool\"", "mode=\"" + mode + "\"",
                                                     "user=\"app\"", "database=\"app\""}) == 1);
  // Buckets are cumulative and end at +Inf with the count.
  CHECK(sample(after, "pggat_pool_query_seconds_bucket", {"pool=\"app_pool\"", "le=\"+Inf\""}) ==
        pool_sample(after, "pggat_pool_query_seconds_count"));
  CHECK(sample(after, "pggat_listener_client", {"listen_addr=\"" + pggat.address() + "\""}) == 1);
  CHECK(sample(after, "pggat_listener_accepted", {"listen_addr=\"" + pggat.address() + "\""}) == 1);
  CHECK(sample(after, "pggat_recipe_servers_open", {"pool=\"app_pool\"", "recipe=\"recipe\""}) >= 1);

  // The C++ API has the same figures.
  const auto pools = pggat.pools();
  REQUIRE(pools.size() == 1);
  CHECK(pools[0].name == "app_pool");
  CHECK(pools[0].user == "app");
  CHECK(pools[0].database == "app");
  CHECK(pools[0].description.mode == mode);
  CHECK(static_cast<double>(pools[0].stats.queries) == pool_sample(after, "pggat_pool_queries_total"));
}

TEST_CASE("metrics: counters move with a pgbench run and end where pgbench says", "[metrics]") {
  InProcessPooler pggat(metrics_config("transaction"));
  TempDir dir;
  write_file(dir / "select.sql", "SELECT 1;\n");
  const std::string before = scrape(pggat);

  std::atomic<bool> done{false};
  std::vector<double> seen;  // queries_total at each scrape during the run
  bool scrapes_failed = false;
  std::thread scraper([&] {
    while (!done) {
      const auto body = http_get(pggat.metrics_address(), "/metrics");
      if (!body) {
        scrapes_failed = true;
        return;
      }
      seen.push_back(pool_sample(*body, "pggat_pool_queries_total"));
      std::this_thread::sleep_for(20ms);  // a scrape interval, not a wait for a condition
    }
  });
  const RunResult run = run_pgbench(pggat.port(), {"-n", "-c", "4", "-j", "2", "-t", "100", "-f", dir / "select.sql"});
  done = true;
  scraper.join();
  INFO(run.describe());
  REQUIRE(run.ok());
  CHECK_FALSE(scrapes_failed);
  CHECK(processed_line(run.out) == "number of transactions actually processed: 400/400");
  for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] >= seen[i - 1]);

  const std::string after = scrape(pggat);
  const auto delta = [&](const std::string& name) {
    return pool_sample(after, name) - pool_sample(before, name);
  };
  CHECK(delta("pggat_pool_transactions_total") == 400);
  CHECK(delta("pggat_pool_queries_total") == 400);
  // pgbench's clients, and the connection it makes first to look at the server.
  CHECK(delta("pggat_pool_simple_accepted") >= 4);
  CHECK(delta("pggat_pool_simple_accepted") <= 5);
  CHECK(delta("pggat_operation_simple_execution_ms_count") == 400);
  CHECK(delta("pggat_pool_acquires_total") >= 400);
  // Every client has gone.
  CHECK(eventually([&] {
    const auto body = http_get(pggat.metrics_address(), "/metrics");
    return body && pool_sample(*body, "pggat_pool_simple_current") == 0;
  }));
}

TEST_CASE("metrics: a bad endpoint is refused with the reason", "[metrics]") {
  pggat::Registry registry;
  pggat::register_builtins(registry);
  nlohmann::json config = session_config();
  config["metrics"] = {{"listen", "/tmp/metrics.sock"}};
  CHECK_THROWS_WITH(pggat::load_config(config, registry),
                    Catch::Contains("metrics.listen") && Catch::Contains("not a unix socket"));
  config["metrics"] = {{"listen", "127.0.0.1:9930"}, {"path", "metrics"}};
  CHECK_THROWS_WITH(pggat::load_config(config, registry), Catch::Contains("metrics.path"));
  config["metrics"] = {{"address", "127.0.0.1:9930"}};
  CHECK_THROWS_WITH(pggat::load_config(config, registry), Catch::Contains("address"));

  // A port someone else holds: start() fails naming it, nothing is left listening.
  InProcessPooler holder(metrics_config("transaction"));
  nlohmann::json taken = metrics_config("transaction");
  taken["metrics"]["listen"] = holder.metrics_address();
  CHECK_THROWS_WITH(InProcessPooler(taken), Catch::Contains(holder.metrics_address()));
}
