// Hostile clients against a running pggat while 100 healthy clients keep querying through it.
//
// pggat runs as its own process (the real binary), so that a crash shows as
// an exit and its memory can be read from /proc. Each attack is one function
// in `attacks` below; after each one the healthy clients must have made
// progress with no error and pggat must still be running. To add a case, add
// a function and a row.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "pggat/proto/startup.hpp"
#include "pggat/proto/writer.hpp"
#include "support/pggat_process.hpp"
#include "support/postgres_server.hpp"
#include "support/pooler.hpp"
#include "support/pq.hpp"
#include "support/raw_client.hpp"

#ifndef PGGAT_BINARY
#error "PGGAT_BINARY must name the built pggat binary (set in tests/integration/meson.build)"
#endif

using namespace pggat;
using namespace pggat::test;
using namespace std::chrono_literals;

namespace {

constexpr int healthy_clients = 100;
constexpr auto startup_timeout = 1s;

// pggat in transaction mode (100 clients on 20 servers) with a short startup_timeout.
std::unique_ptr<PggatProcess> start_hostile_target(const TempDir& dir) {
  (void)PostgresServer::instance();  // started before pggat dials it
  return start_pggat(PGGAT_BINARY, dir, [](std::uint16_t port) {
    nlohmann::json config = session_config({{"mode", "transaction"}}, {{"max_connections", 20}},
                                           {{"address", "127.0.0.1:" + std::to_string(port)},
                                            {"startup_timeout", "1s"}});
    config["servers"][0]["routes"][0]["handle"]["pool"]["idle_transaction_timeout"] = "1s";
    // Users scram_* must prove a password (the healthy clients, user app, need none).
    nlohmann::json& routes = config["servers"][0]["routes"];
    nlohmann::json password_route = nlohmann::json::object();
    password_route["match"] = {{"matcher", "user"}, {"user", "scram_*"}};
    password_route["handle"] = {{"handler", "rewrite_password"}, {"password", "s3cret"}};
    routes.insert(routes.begin(), password_route);
    return config;
  });
}

// A field of /proc/<pid>/status in kB (VmHWM: peak resident, VmPeak: peak virtual).
std::uint64_t status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
  }
  FAIL("no " << field << " in /proc/" << pid << "/status");
  return 0;
}

// 100 libpq clients on threads, each running queries in a loop through pggat.
class HealthyLoad {
 public:
  explicit HealthyLoad(std::uint16_t port) {
    const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port) +
                                 " user=app dbname=app connect_timeout=10";
    for (int i = 0; i < healthy_clients; ++i) {
      threads_.emplace_back([this, conninfo, i] { run(conninfo, i); });
    }
  }
  ~HealthyLoad() { stop(); }
  HealthyLoad(const HealthyLoad&) = delete;
  HealthyLoad& operator=(const HealthyLoad&) = delete;

  void stop() {
    stopping_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  [[nodiscard]] std::uint64_t queries() const { return queries_; }
  [[nodiscard]] int connected() const { return connected_; }
  [[nodiscard]] std::vector<std::string> errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  void run(const std::string& conninfo, int id) {
    try {
      PqConnection c(conninfo);
      ++connected_;
      const std::string sql = "select " + std::to_string(id);
      while (!stopping_) {
        const PqResult r = c.exec(sql);
        if (!r.ok() || r.value() != std::to_string(id)) {
          record("client " + std::to_string(id) + ": " + r.error());
          return;
        }
        ++queries_;
      }
    } catch (const std::exception& e) {
      record("client " + std::to_string(id) + ": " + e.what());
    }
  }
  void record(std::string error) {
    std::lock_guard lock(mutex_);
    errors_.push_back(std::move(error));
  }

  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> queries_{0};
  std::atomic<int> connected_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> errors_;
  std::vector<std::thread> threads_;
};

struct Target {
  PggatProcess& pggat;
  HealthyLoad& load;

  RawClient connect() const { return RawClient("127.0.0.1", pggat.port()); }

  // The healthy clients complete `n` more queries (while whatever the caller
  // holds open stays open), without an error.
  void require_progress(std::uint64_t n = 200) const {
    const std::uint64_t before = load.queries();
    const bool progressed = eventually([&] { return load.queries() >= before + n; }, 20s);
    INFO("healthy queries before: " << before << ", now: " << load.queries());
    REQUIRE(progressed);
    REQUIRE(load.errors().empty());
    REQUIRE(!pggat.exit_status().has_value());
  }
};

proto::Buffer startup_header(std::uint32_t length_field, std::uint32_t code) {
  proto::Buffer b;
  proto::MessageWriter::untyped(b).u32(code);
  for (int i = 0; i < 4; ++i) b[i] = std::byte(length_field >> (24 - 8 * i));
  return b;
}

proto::Buffer typed_header(char type, std::uint32_t length_field) {
  proto::Buffer b{std::byte(type)};
  for (int i = 0; i < 4; ++i) b.push_back(std::byte(length_field >> (24 - 8 * i)));
  return b;
}

// The FATAL a hostile client must get, and then the close.
void require_fatal(RawClient& c, std::string_view code, std::string_view message) {
  const auto e = c.read_error(10s);
  REQUIRE(e);
  CHECK(e->severity == "FATAL");
  CHECK(e->code == code);
  CHECK(e->message == message);
  CHECK(c.closed(5s));
}

// (a) Random bytes instead of a startup packet, on 20 connections at once.
// Whatever the bytes say, each gets a FATAL and is closed: a bad length, a
// protocol that is not 3.0, a bad layout, or (bytes too few to be a packet)
// the startup timeout.
void garbage_startup(const Target& t) {
  std::mt19937 random(20240601);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 20; ++i) {
    proto::Buffer garbage(1 + random() % 300);
    for (auto& b : garbage) b = std::byte(random() & 0xff);
    clients.push_back(std::make_unique<RawClient>("127.0.0.1", t.pggat.port()));
    clients.back()->send(garbage);
  }
  t.require_progress();
  for (auto& c : clients) {
    const auto e = c->read_error(10s);
    REQUIRE(e);
    CHECK(e->severity == "FATAL");
    CHECK((e->code == "08P01" || e->code == "0A000" || e->code == "28000"));
    CHECK(c->closed(5s));
  }
}

// (b) Startup packets claiming 2 GB, 50 at once: refused by the length cap
// before anything is allocated (pggat's memory is checked by the caller).
void huge_startup_length(const Target& t) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<RawClient>("127.0.0.1", t.pggat.port()));
    clients.back()->send(startup_header(0x7fffffff, proto::protocol_version_3_0));
  }
  for (auto& c : clients) require_fatal(*c, "08P01", "invalid length of startup packet");
}

// (c) A startup packet announced, then trickled a byte at a time: startup_timeout cuts it.
void endless_startup(const Target& t) {
  RawClient c = t.connect();
  const auto start = Clock::now();
  c.send(startup_header(5000, proto::protocol_version_3_0));
  std::optional<RawMessage> reply;
  const std::byte one[] = {std::byte{'x'}};
  while (!reply && Clock::now() - start < 10s) {
    try {
      c.send(one);
    } catch (const std::runtime_error&) {
      // pggat gave up on us meanwhile: its error is waiting to be read.
    }
    reply = c.read(50ms);
  }
  const auto elapsed = Clock::now() - start;
  REQUIRE(reply);
  REQUIRE(reply->type == 'E');
  const auto e = proto::be::ErrorResponse::decode(reply->body);
  REQUIRE(e);
  CHECK(e->to_pg_error().code == "08P01");
  CHECK(e->to_pg_error().message == "timed out waiting for a startup packet");
  CHECK(elapsed >= startup_timeout);
  CHECK(elapsed < startup_timeout + 5s);
  CHECK(c.closed(5s));
  t.require_progress();
}

// (d) A flood of SSLRequests: the first is refused with 'N', the second is
// read as PostgreSQL reads it, a StartupMessage of protocol 1234.5679.
void ssl_request_flood(const Target& t) {
  proto::Buffer flood;
  for (int i = 0; i < 1000; ++i) proto::SSLRequest{}.encode(flood);
  RawClient c = t.connect();
  c.send(flood);
  CHECK(c.read_byte() == 'N');
  require_fatal(c, "0A000", "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0");

  // GSS and SSL once each, in either order, are fine; a second GSSENCRequest is not.
  RawClient g = t.connect();
  proto::Buffer b;
  proto::GSSENCRequest{}.encode(b);
  g.send(b);
  CHECK(g.read_byte() == 'N');
  b.clear();
  proto::SSLRequest{}.encode(b);
  g.send(b);
  CHECK(g.read_byte() == 'N');
  b.clear();
  proto::GSSENCRequest{}.encode(b);
  g.send(b);
  require_fatal(g, "0A000", "unsupported frontend protocol 1234.5680: server supports 3.0 to 3.0");
  t.require_progress();
}

// (e) Garbage after a successful startup.
void garbage_after_startup(const Target& t) {
  {
    RawClient c = t.connect();
    c.send_startup("app", "app");
    REQUIRE(c.read_until_ready());
    c.send(typed_header('z', 4));
    require_fatal(c, "08P01", "invalid frontend message type 122");
  }
  {
    RawClient c = t.connect();
    c.send_startup("app", "app");
    REQUIRE(c.read_until_ready());
    c.send(typed_header('Q', 0x7fffffff));
    require_fatal(c, "08P01", "frontend message type 81 too large: length 2147483647");
  }
  t.require_progress();
}

// (e') A Parse claiming 1 GiB, under the length cap, and then nothing: pggat
// must not allocate the claim (it used to, zero-filled, at once).
void huge_claim_under_cap(const Target& t) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RawClient>("127.0.0.1", t.pggat.port()));
    clients.back()->send_startup("app", "app");
    REQUIRE(clients.back()->read_until_ready());
    clients.back()->send(typed_header('P', 0x3ffffff0));
  }
  // Proof that the claims were read: a fifth, healthy raw client still gets answers.
  RawClient probe = t.connect();
  probe.send_startup("app", "app");
  REQUIRE(probe.read_until_ready());
  t.require_progress();
  // Closing them lets pggat drop what they hold.
}

// (f) Many connections that connect and send nothing: the healthy clients
// carry on while they are open; each is closed after startup_timeout.
void silent_connections(const Target& t) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 300; ++i)
    clients.push_back(std::make_unique<RawClient>("127.0.0.1", t.pggat.port()));
  t.require_progress();
  for (auto& c : clients) require_fatal(*c, "08P01", "timed out waiting for a startup packet");
}

// (g) Clients that stop in the middle of SCRAM: some after the server's
// challenge, some after their client-first message. Each is cut at
// startup_timeout; none holds anything the healthy clients need.
void stalled_scram(const Target& t) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::make_unique<RawClient>("127.0.0.1", t.pggat.port()));
    RawClient& c = *clients.back();
    c.send_startup("scram_" + std::to_string(i), "app");
    const auto challenge = c.read();
    REQUIRE(challenge);
    REQUIRE(challenge->type == 'R');
    REQUIRE(proto::be::auth_code(challenge->body) == proto::be::AuthCode::sasl);
    if (i % 2 == 0) continue;
    const std::string first = "n,,n=,r=abcdefghijklmnopqrstuvwx";
    proto::Buffer message;
    proto::fe::SASLInitialResponse{"SCRAM-SHA-256", proto::as_bytes(first)}.encode(message);
    c.send(message);
    const auto server_first = c.read();
    REQUIRE(server_first);
    REQUIRE(server_first->type == 'R');
  }
  t.require_progress();
  for (auto& c : clients) require_fatal(*c, "08006", "authentication timed out");
}

// (h) As many clients as there are servers, each stopping halfway through a
// message it started: each holds a server until idle_transaction_timeout
// cuts it, then the healthy clients have them back.
void stalled_mid_message(const Target& t) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<RawClient>("127.0.0.1", t.pggat.port()));
    clients.back()->send_startup("app", "app");
    REQUIRE(clients.back()->read_until_ready());
    clients.back()->send(typed_header('P', 64));  // a Parse header, and nothing of its body
  }
  t.require_progress();
  for (auto& c : clients)
    require_fatal(*c, "25P03", "terminating connection due to idle-in-transaction timeout");
}

struct Attack {
  const char* name;
  void (*run)(const Target&);
};

const Attack attacks[] = {
    {"(a) random garbage instead of a startup packet", garbage_startup},
    {"(b) a startup packet claiming 2 GB", huge_startup_length},
    {"(c) an endless startup packet", endless_startup},
    {"(d) a flood of SSLRequests", ssl_request_flood},
    {"(e) garbage after startup", garbage_after_startup},
    {"(e) a message claiming 1 GiB, under the cap", huge_claim_under_cap},
    {"(f) many silent connections", silent_connections},
    {"(g) clients that stop in the middle of SCRAM", stalled_scram},
    {"(h) clients holding every server, stopped mid-message", stalled_mid_message},
};

}  // namespace

TEST_CASE("hostile clients are closed with a clear error while 100 healthy clients keep working",
          "[hostile]") {
  TempDir dir;
  auto pggat = start_hostile_target(dir);
  HealthyLoad load(pggat->port());
  const Target target{*pggat, load};
  REQUIRE(eventually([&] { return load.connected() == healthy_clients || !load.errors().empty(); },
                     30s));
  target.require_progress();

  const pid_t pid = pggat->pid();
  const std::uint64_t peak_rss_before = status_kb(pid, "VmHWM");
  const std::uint64_t peak_virtual_before = status_kb(pid, "VmPeak");

  for (const Attack& attack : attacks) {
    INFO("attack: " << attack.name);
    attack.run(target);
    target.require_progress();
    REQUIRE(load.connected() == healthy_clients);
  }

  // The 2 GB and 1 GiB claims cost nothing like their size: peak resident
  // memory grew by less than 64 MB, peak virtual memory by less than 256 MB.
  const std::uint64_t peak_rss_growth = status_kb(pid, "VmHWM") - peak_rss_before;
  const std::uint64_t peak_virtual_growth = status_kb(pid, "VmPeak") - peak_virtual_before;
  INFO("peak RSS growth " << peak_rss_growth << " kB, peak virtual growth " << peak_virtual_growth
                          << " kB");
  CHECK(peak_rss_growth < 64 * 1024);
  CHECK(peak_virtual_growth < 256 * 1024);

  load.stop();
  CHECK(load.errors().empty());
  CHECK(load.queries() > 0);
  REQUIRE(!pggat->exit_status().has_value());
}
