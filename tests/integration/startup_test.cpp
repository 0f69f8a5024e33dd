// The startup phase and bad input, at the byte level: PostgreSQL's answers, and no harm to others.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <pqxx/pqxx>
#include <thread>

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "pggat/proto/startup.hpp"
#include "pggat/proto/writer.hpp"
#include "support/pggat_process.hpp"
#include "support/pooler.hpp"
#include "support/pq.hpp"
#include "support/raw_client.hpp"

using namespace pggat;
using namespace pggat::test;

namespace {

InProcessPooler& shared_pooler() {
  static InProcessPooler pooler(session_config({}, {}, {{"startup_timeout", "500ms"}}));
  return pooler;
}

RawClient connect_raw() { return RawClient("127.0.0.1", shared_pooler().port()); }

proto::Buffer packet(std::uint32_t length_field, std::uint32_t code) {
  proto::Buffer b;
  proto::MessageWriter::untyped(b).u32(code);
  // Overwrite the length with the one under test.
  b[0] = std::byte(length_field >> 24);
  b[1] = std::byte(length_field >> 16);
  b[2] = std::byte(length_field >> 8);
  b[3] = std::byte(length_field);
  return b;
}

// A client on another connection keeps working while one misbehaves.
void check_others_unaffected() {
  pqxx::connection c(shared_pooler().conninfo());
  CHECK(pqxx::nontransaction(c).exec("select 'still fine'")[0][0].as<std::string>() == "still fine");
}

}  // namespace

TEST_CASE("an unknown database gets FATAL 3D000 like PostgreSQL", "[startup]") {
  RawClient c = connect_raw();
  c.send_startup("app", "nosuchdb");
  const auto e = c.read_error();
  REQUIRE(e);
  CHECK(e->severity == "FATAL");
  CHECK(e->code == "3D000");
  CHECK(e->message == "database \"nosuchdb\" does not exist");
  CHECK(c.closed());
}

TEST_CASE("malformed startup packets get 08P01 and a close", "[startup]") {
  SECTION("length below 8") {
    RawClient c = connect_raw();
    const std::byte bad[] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{3}};
    c.send(bad);
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->code == "08P01");
    CHECK(e->message == "invalid length of startup packet");
    CHECK(c.closed());
  }
  SECTION("length over 10000 bytes") {
    RawClient c = connect_raw();
    c.send(packet(10001, proto::protocol_version_3_0));
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->code == "08P01");
    CHECK(c.closed());
  }
  SECTION("a 2 GB length") {
    RawClient c = connect_raw();
    c.send(packet(0x7fffffff, proto::protocol_version_3_0));
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->code == "08P01");
    CHECK(c.closed());
  }
  SECTION("parameters without their terminator") {
    RawClient c = connect_raw();
    proto::Buffer b;
    proto::MessageWriter::untyped(b).u32(proto::protocol_version_3_0).cstring("user").cstring("app");
    c.send(b);  // no final NUL
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->code == "08P01");
  }
  check_others_unaffected();
}

TEST_CASE("protocol versions and startup parameters PostgreSQL would refuse", "[startup]") {
  SECTION("protocol 2.0") {
    RawClient c = connect_raw();
    proto::Buffer b;
    proto::MessageWriter::untyped(b).u32(2 << 16).cstring("user").cstring("app").u8(0);
    c.send(b);
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->code == "0A000");
    CHECK(e->message == "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
  }
  SECTION("no user") {
    RawClient c = connect_raw();
    proto::Buffer b;
    const std::pair<std::string_view, std::string_view> params[] = {{"database", "app"}};
    proto::StartupMessage::encode(b, params);
    c.send(b);
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->code == "28000");
    CHECK(e->message == "no PostgreSQL user name specified in startup packet");
  }
  SECTION("replication connections") {
    RawClient c = connect_raw();
    proto::Buffer b;
    const std::pair<std::string_view, std::string_view> params[] = {
        {"user", "app"}, {"database", "app"}, {"replication", "true"}};
    proto::StartupMessage::encode(b, params);
    c.send(b);
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->code == "0A000");
    CHECK(e->message.find("replication connections are not supported") != std::string::npos);
  }
  SECTION("an options switch pggat does not take") {
    const std::string error =
        connection_error(shared_pooler().conninfo("app", "app", "options='-d 5'"));
    CHECK(error.find("unsupported option \"-d\"") != std::string::npos);
  }
}

TEST_CASE("protocol 3.1 and _pq_ options get NegotiateProtocolVersion, then a session", "[startup]") {
  RawClient c = connect_raw();
  proto::Buffer b;
  const std::pair<std::string_view, std::string_view> params[] = {
      {"user", "app"}, {"database", "app"}, {"_pq_.future_option", "on"}};
  proto::StartupMessage::encode(b, params, (3 << 16) | 1);
  c.send(b);
  auto m = c.read();
  REQUIRE(m);
  REQUIRE(m->type == 'v');
  const auto v = proto::be::NegotiateProtocolVersion::decode(m->body);
  REQUIRE(v);
  CHECK(v->newest_minor == 0);
  REQUIRE(v->unrecognized_options.size() == 1);
  CHECK(*v->unrecognized_options.begin() == "_pq_.future_option");
  m = c.read();
  REQUIRE(m);
  CHECK(m->type == 'R');  // AuthenticationOk
  CHECK(c.read_until_ready());
}

TEST_CASE("SSLRequest and GSSENCRequest are refused with 'N', then startup goes on", "[startup]") {
  RawClient c = connect_raw();
  proto::Buffer b;
  proto::SSLRequest{}.encode(b);
  c.send(b);
  CHECK(c.read_byte() == 'N');
  b.clear();
  proto::GSSENCRequest{}.encode(b);
  c.send(b);
  CHECK(c.read_byte() == 'N');
  c.send_startup("app", "app");
  CHECK(c.read_until_ready());

  SECTION("a second SSLRequest is refused as PostgreSQL refuses it") {
    RawClient flood = connect_raw();
    proto::Buffer req;
    proto::SSLRequest{}.encode(req);
    flood.send(req);
    CHECK(flood.read_byte() == 'N');
    flood.send(req);
    const auto e = flood.read_error();
    REQUIRE(e);
    CHECK(e->code == "0A000");
    CHECK(e->message == "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0");
    CHECK(flood.closed());
  }
}

TEST_CASE("a client that sends nothing is closed after startup_timeout", "[startup]") {
  RawClient silent = connect_raw();
  const auto e = silent.read_error(std::chrono::seconds(10));
  REQUIRE(e);
  CHECK(e->code == "08P01");
  CHECK(e->message == "timed out waiting for a startup packet");
  CHECK(silent.closed());
  // An endless startup packet (length announced, bytes never sent) too.
  RawClient slow = connect_raw();
  slow.send(packet(5000, proto::protocol_version_3_0));
  const auto e2 = slow.read_error(std::chrono::seconds(10));
  REQUIRE(e2);
  CHECK(e2->message == "timed out waiting for a startup packet");
}

// The deadline is kept by the App's once-a-second sweep, which goes on while
// pggat drains: a silent client cannot hold a shutdown to its grace period.
TEST_CASE("a client silent in its startup while pggat drains is cut at startup_timeout, and pggat stops",
          "[startup]") {
  InProcessPooler p(session_config({}, {}, {{"startup_timeout", "500ms"}}));
  RawClient silent("127.0.0.1", p.port());
  REQUIRE(eventually([&] { return p.stats().clients == 1; }, std::chrono::seconds(5)));  // accepted
  const auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { p.stop(std::chrono::seconds(30)); });  // waits up to 30 s for its clients
  const auto e = silent.read_error(std::chrono::seconds(10));
  stopper.join();
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(e);
  CHECK(e->code == "08P01");
  CHECK(e->message == "timed out waiting for a startup packet");
  CHECK(silent.closed());
  CHECK(took < std::chrono::seconds(10));  // not the 30 s grace
}

TEST_CASE("garbage after startup gets 08P01; other clients carry on", "[startup]") {
  pqxx::connection bystander(shared_pooler().conninfo());
  pqxx::nontransaction b(bystander);
  CHECK(b.exec("select 1")[0][0].as<int>() == 1);

  SECTION("an unknown message type") {
    RawClient c = connect_raw();
    c.send_startup("app", "app");
    REQUIRE(c.read_until_ready());
    const std::byte garbage[] = {std::byte{'z'}, std::byte{0}, std::byte{0}, std::byte{0},
                                 std::byte{4}};
    c.send(garbage);
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->severity == "FATAL");
    CHECK(e->code == "08P01");
    CHECK(e->message == "invalid frontend message type 122");
    CHECK(c.closed());
  }
  SECTION("a 2 GB message length") {
    RawClient c = connect_raw();
    c.send_startup("app", "app");
    REQUIRE(c.read_until_ready());
    const std::byte huge[] = {std::byte{'Q'}, std::byte{0x7f}, std::byte{0xff}, std::byte{0xff},
                              std::byte{0xff}};
    c.send(huge);
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->code == "08P01");
    CHECK(e->message.find("too large") != std::string::npos);
    CHECK(c.closed());
  }
  SECTION("a password message outside authentication") {
    RawClient c = connect_raw();
    c.send_startup("app", "app");
    REQUIRE(c.read_until_ready());
    proto::Buffer b;
    proto::fe::PasswordMessage{"secret"}.encode(b);
    c.send(b);
    const auto e = c.read_error();
    REQUIRE(e);
    CHECK(e->code == "08P01");
  }
  CHECK(b.exec("select 2")[0][0].as<int>() == 2);
  check_others_unaffected();
}

TEST_CASE("listener max_connections refuses the extra client with 53300", "[startup]") {
  InProcessPooler pooler(session_config({}, {}, {{"max_connections", 2}}));
  pqxx::connection a(pooler.conninfo());
  pqxx::connection b(pooler.conninfo());
  const std::string error = connection_error(pooler.conninfo());
  CHECK(error.find("too many connections") != std::string::npos);
  a.disconnect();
  // A freed slot is usable again (the close may take a moment to be seen).
  bool connected = false;
  for (int i = 0; i < 100 && !connected; ++i) {
    connected = connection_error(pooler.conninfo()).empty();
    if (!connected) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(connected);
}

TEST_CASE("a unix-socket listener serves clients", "[startup]") {
  const std::string dir = "/tmp/pggat-test-" + std::to_string(::getpid());
  nlohmann::json config = session_config();
  config["servers"][0]["listen"].push_back({{"address", dir + ":7432"}, {"unix_socket_mode", "0770"}});
  InProcessPooler pooler(config);
  pqxx::connection c("host=" + dir + " port=7432 user=app dbname=app");
  CHECK(pqxx::nontransaction(c).exec("select current_user")[0][0].as<std::string>() == "app");
  struct stat st {};
  REQUIRE(::stat((dir + "/.s.PGSQL.7432").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0770);
}
