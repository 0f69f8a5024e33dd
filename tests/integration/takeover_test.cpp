// Zero-downtime binary upgrade: a second pggat listens on the same port
// (reuse_port), the first is sent SIGTERM and drains, clients never notice.
#include <catch2/catch.hpp>

#include <fstream>
#include <future>
#include <string>

#include "support/client_programs.hpp"
#include "support/pggat_process.hpp"
#include "support/pooler.hpp"
#include "support/postgres_server.hpp"

using namespace pggat::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Connections still in a closing listener's queue are reset unless the
// kernel hands them to the other listener of the port (Linux 5.14+).
// Set for the test and put back after it; false when it cannot be set.
class MigrateRequests {
 public:
  MigrateRequests() {
    std::ifstream in(path);
    if (!(in >> old_)) return;
    std::ofstream out(path);
    set_ = static_cast<bool>(out << "1\n");
  }
  ~MigrateRequests() {
    if (!set_) return;
    std::ofstream out(path);
    out << old_ << "\n";
  }
  [[nodiscard]] bool set() const { return set_; }

 private:
  static constexpr const char* path = "/proc/sys/net/ipv4/tcp_migrate_req";
  std::string old_;
  bool set_ = false;
};

}  // namespace

TEST_CASE("takeover: a new pggat on the same port (reuse_port), the old one drained by SIGTERM, 0 failed transactions",
          "[takeover][cli]") {
  MigrateRequests migrate;
  if (!migrate.set()) {
    WARN("net.ipv4.tcp_migrate_req cannot be set here (not root, or an old kernel): takeover not tested");
    return;
  }
  PostgresServer& pg = PostgresServer::instance();
  pg.execute("DROP TABLE IF EXISTS takeover_log; CREATE TABLE takeover_log (client int); "
             "GRANT ALL ON takeover_log TO app",
             "app");
  TempDir dir;
  const auto make = [](std::uint16_t port) {
    json config = session_config({{"mode", "transaction"}}, {},
                                 {{"address", "127.0.0.1:" + std::to_string(port)}, {"reuse_port", true}});
    config["shutdown_timeout"] = "20s";
    return config;
  };
  auto old_pggat = start_pggat(PGGAT_BINARY, dir, make, {}, "old");
  const std::uint16_t port = old_pggat->port();
  write_file(dir / "insert.sql", "INSERT INTO takeover_log VALUES (:client_id);\n");
  const auto rows = [&] { return pg.execute("SELECT count(*) FROM takeover_log", "app")[0][0].as<long>(); };
  // -C: a new connection for every transaction, so each one finds whichever pggat is listening.
  auto bench = std::async(std::launch::async, [&] {
    return run_pgbench(port, {"-n", "-C", "-c", "4", "-j", "2", "-T", "12", "-f", dir / "insert.sql"}, 120s);
  });
  REQUIRE(eventually([&] { return rows() >= 100; }, 60s));

  // The new binary (the same one here) binds the port beside the old.
  write_file(dir / "new.json", make(port).dump(2));
  ChildProcess new_pggat({PGGAT_BINARY, "run", dir / "new.json"}, dir / "new.out", dir / "new.log");
  REQUIRE(eventually([&] { return new_pggat.err().find("listening on 127.0.0.1:" + std::to_string(port)) !=
                                  std::string::npos; }));
  old_pggat->terminate();
  const auto old_status = old_pggat->wait_for(30s);
  REQUIRE(old_status.has_value());
  CHECK(old_status->describe() == "exit 0");
  const long at_takeover = rows();
  CHECK(eventually([&] { return rows() > at_takeover + 100; }, 30s));  // served by the new one alone
  CHECK(bench.wait_for(0s) == std::future_status::timeout);             // all while pgbench ran

  const RunResult run = bench.get();
  INFO(run.describe());
  INFO(old_pggat->log());
  REQUIRE(run.ok());
  const long processed = transactions_processed(run.out);
  WARN(processed << " transactions (a connection each) across the takeover");
  CHECK(processed > 0);
  CHECK(rows() == processed);
  CHECK(run.out.find("number of failed transactions: 0 (0.000%)") != std::string::npos);
  CHECK(new_pggat.running());
  new_pggat.stop();
}
