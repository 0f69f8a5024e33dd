// TLS with real libpq and PostgreSQL: to clients (listener ssl) and to servers (recipe ssl_mode), with certificates made by openssl.
#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <sys/stat.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <future>
#include <thread>

#include "pggat/app.hpp"
#include "pggat/handler.hpp"
#include "pggat/proto/startup.hpp"
#include "pggat/server.hpp"
#include "support/pggat_process.hpp"
#include "support/pooler.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"
#include "support/raw_client.hpp"

using namespace pggat;
using namespace pggat::test;

namespace {

// A CA, certificates it signs, and a CA that signs nothing of ours; made once
// per test process with the openssl command line tool.
class Pki {
 public:
  static const Pki& instance() {
    static Pki pki;
    return pki;
  }
  [[nodiscard]] std::string file(std::string_view name) const { return dir_ / name; }

  // SHA-256 of a certificate's DER form, lower-case hex.
  [[nodiscard]] std::string sha256_hex(std::string_view cert) const {
    const RunResult r =
        run("fingerprint", {"openssl", "x509", "-in", file(cert), "-noout", "-fingerprint", "-sha256"});
    std::string hex;
    for (char c : r.out.substr(r.out.find('=') + 1))
      if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
    return hex;
  }

 private:
  Pki() {
    make_ca("ca");
    make_ca("other-ca");
    // The listener's: for the names clients use.
    make_cert("server", "ca", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
    // PostgreSQL's: only for 127.0.0.1, so dialing "localhost" is a wrong host name.
    make_cert("pg", "ca", "pg-test", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
    make_cert("client", "ca", "app", "extendedKeyUsage=clientAuth");
    make_cert("stranger", "other-ca", "app", "extendedKeyUsage=clientAuth");
  }

  RunResult run(std::string_view what, std::vector<std::string> argv) const {
    RunResult r = run_program(std::move(argv), std::chrono::seconds(60));
    if (!r.ok()) throw std::runtime_error("openssl " + std::string(what) + " failed: " + r.describe());
    return r;
  }

  void make_ca(const std::string& name) {
    run("CA", {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
               "-keyout", file(name + ".key"), "-out", file(name + ".crt"), "-days", "30", "-subj",
               "/CN=pggat test " + name, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
               "keyUsage=critical,keyCertSign,cRLSign"});
  }

  void make_cert(const std::string& name, const std::string& ca, const std::string& cn,
                 const std::string& extensions) {
    write_file(file(name + ".ext"), extensions + "\nbasicConstraints=CA:FALSE\n");
    run("key", {"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", file(name + ".key"), "-out", file(name + ".csr"), "-subj", "/CN=" + cn});
    run("sign", {"openssl", "x509", "-req", "-in", file(name + ".csr"), "-CA", file(ca + ".crt"), "-CAkey",
                 file(ca + ".key"), "-CAcreateserial", "-out", file(name + ".crt"), "-days", "30", "-extfile",
                 file(name + ".ext")});
    ::chmod(file(name + ".key").c_str(), 0600);  // libpq refuses keys others can read
  }

  TempDir dir_;
};

// libpq's view of a connection: whether it is encrypted, and the error if it failed.
struct ClientOutcome {
  bool connected = false;
  bool ssl_in_use = false;
  std::string error;
};

ClientOutcome connect_with(const std::string& conninfo) {
  ClientOutcome out;
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) == CONNECTION_OK) {
    out.connected = true;
    out.ssl_in_use = PQsslInUse(conn) == 1;
    PGresult* r = PQexec(conn, "select 1");
    out.connected = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
  } else {
    out.error = PQerrorMessage(conn);
  }
  PQfinish(conn);
  return out;
}

nlohmann::json key_pair_ssl(nlohmann::json extra = nlohmann::json::object()) {
  const Pki& pki = Pki::instance();
  nlohmann::json ssl = {{"provider", "x509_key_pair"},
                        {"cert_file", pki.file("server.crt")},
                        {"key_file", pki.file("server.key")}};
  ssl.update(extra);
  return ssl;
}

std::string tls_conninfo(const InProcessPooler& pooler, std::string_view host, std::string_view extra) {
  return "host=" + std::string(host) + " port=" + std::to_string(pooler.port()) +
         " user=app dbname=app connect_timeout=10 " + std::string(extra);
}

}  // namespace

TEST_CASE("TLS to clients: verify-full against the listener's certificate", "[tls]") {
  const Pki& pki = Pki::instance();
  InProcessPooler pooler(session_config({}, {}, {{"ssl", key_pair_ssl()}}));
  const std::string root = "sslrootcert=" + pki.file("ca.crt");

  for (std::string_view host : {"127.0.0.1", "localhost"}) {
    INFO(host);
    const ClientOutcome full = connect_with(tls_conninfo(pooler, host, "sslmode=verify-full " + root));
    INFO(full.error);
    CHECK(full.connected);
    CHECK(full.ssl_in_use);
  }
  const ClientOutcome require = connect_with(tls_conninfo(pooler, "127.0.0.1", "sslmode=require"));
  CHECK(require.connected);
  CHECK(require.ssl_in_use);

  // A CA that did not sign the listener's certificate.
  const ClientOutcome wrong_ca = connect_with(
      tls_conninfo(pooler, "127.0.0.1", "sslmode=verify-full sslrootcert=" + pki.file("other-ca.crt")));
  INFO(wrong_ca.error);
  CHECK_FALSE(wrong_ca.connected);
  CHECK(wrong_ca.error.find("certificate verify failed") != std::string::npos);

  // pggat keeps serving after a failed handshake.
  CHECK(connect_with(tls_conninfo(pooler, "127.0.0.1", "sslmode=verify-ca " + root)).ssl_in_use);
}

TEST_CASE("TLS to clients: psql reports the encrypted connection", "[tls]") {
  const Pki& pki = Pki::instance();
  InProcessPooler pooler(session_config({}, {}, {{"ssl", key_pair_ssl()}}));
  const RunResult r = run_program(
      {"/usr/lib/postgresql/15/bin/psql", "-X", "-c", "\\conninfo",
       tls_conninfo(pooler, "localhost", "sslmode=verify-full sslrootcert=" + pki.file("ca.crt"))},
      std::chrono::seconds(30));
  INFO(r.describe());
  REQUIRE(r.ok());
  CHECK(r.out.find("SSL connection (protocol: TLSv1.3") != std::string::npos);
}

TEST_CASE("TLS to clients: a self-signed listener encrypts, and cannot be verified", "[tls]") {
  const Pki& pki = Pki::instance();
  InProcessPooler pooler(
      session_config({}, {}, {{"ssl", {{"provider", "self_signed"}, {"sans", {"127.0.0.1", "db.example"}}}}}));
  const ClientOutcome require = connect_with(tls_conninfo(pooler, "127.0.0.1", "sslmode=require"));
  INFO(require.error);
  CHECK(require.connected);
  CHECK(require.ssl_in_use);
  const ClientOutcome full = connect_with(
      tls_conninfo(pooler, "127.0.0.1", "sslmode=verify-full sslrootcert=" + pki.file("ca.crt")));
  CHECK_FALSE(full.connected);
  CHECK(full.error.find("certificate verify failed") != std::string::npos);
}

TEST_CASE("TLS to clients: a listener without ssl answers N", "[tls]") {
  InProcessPooler pooler(session_config());
  const ClientOutcome require = connect_with(tls_conninfo(pooler, "127.0.0.1", "sslmode=require"));
  CHECK_FALSE(require.connected);
  CHECK(require.error.find("server does not support SSL") != std::string::npos);
  const ClientOutcome prefer = connect_with(tls_conninfo(pooler, "127.0.0.1", "sslmode=prefer"));
  INFO(prefer.error);
  CHECK(prefer.connected);
  CHECK_FALSE(prefer.ssl_in_use);

  RawClient raw("127.0.0.1", pooler.port());
  proto::Buffer request;
  proto::SSLRequest{}.encode(request);
  raw.send(request);
  CHECK(raw.read_byte() == 'N');
}

TEST_CASE("TLS to clients: bytes sent after the SSLRequest, before the handshake, are refused", "[tls]") {
  InProcessPooler pooler(session_config({}, {}, {{"ssl", key_pair_ssl()}}));
  RawClient raw("127.0.0.1", pooler.port());
  proto::Buffer request;
  proto::SSLRequest{}.encode(request);
  const std::vector<proto::StartupParameter> params{{"user", "app"}};
  proto::StartupMessage::encode(request, params);
  raw.send(request);
  const auto error = raw.read_error();
  REQUIRE(error);
  CHECK(error->code == "08P01");
  CHECK(error->message == "received unencrypted data after SSL request");
}

// The startup's deadline covers the handshake: the App's sweep cancels it.
TEST_CASE("TLS to clients: a client that stops in the middle of its handshake is closed at startup_timeout",
          "[tls]") {
  InProcessPooler pooler(session_config({}, {}, {{"ssl", key_pair_ssl()}, {"startup_timeout", "500ms"}}));
  RawClient raw("127.0.0.1", pooler.port());
  proto::Buffer request;
  proto::SSLRequest{}.encode(request);
  raw.send(request);
  REQUIRE(raw.read_byte() == 'S');
  const auto start = std::chrono::steady_clock::now();
  // No ClientHello follows: pggat waits in its handshake until the deadline.
  CHECK(raw.closed(std::chrono::seconds(10)));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= std::chrono::milliseconds(400));
  CHECK(took < std::chrono::seconds(6));
  const ClientOutcome other = connect_with(tls_conninfo(pooler, "127.0.0.1", "sslmode=require"));
  CHECK(other.connected);  // the listener carries on
  CHECK(other.ssl_in_use);
}

TEST_CASE("TLS to clients: client certificates", "[tls]") {
  const Pki& pki = Pki::instance();
  const std::string root = " sslrootcert=" + pki.file("ca.crt");
  const std::string good = " sslcert=" + pki.file("client.crt") + " sslkey=" + pki.file("client.key");
  const std::string stranger = " sslcert=" + pki.file("stranger.crt") + " sslkey=" + pki.file("stranger.key");

  SECTION("require: no certificate or a stranger's is refused") {
    InProcessPooler pooler(
        session_config({}, {}, {{"ssl", key_pair_ssl({{"client_ca_file", pki.file("ca.crt")}})}}));
    const ClientOutcome none = connect_with(tls_conninfo(pooler, "localhost", "sslmode=verify-full" + root));
    INFO(none.error);
    CHECK_FALSE(none.connected);
    CHECK(none.error.find("certificate") != std::string::npos);
    const ClientOutcome other =
        connect_with(tls_conninfo(pooler, "localhost", "sslmode=verify-full" + root + stranger));
    INFO(other.error);
    CHECK_FALSE(other.connected);
    const ClientOutcome ok = connect_with(tls_conninfo(pooler, "localhost", "sslmode=verify-full" + root + good));
    INFO(ok.error);
    CHECK(ok.connected);
    CHECK(ok.ssl_in_use);
  }
  SECTION("optional: no certificate is fine, a stranger's is not") {
    InProcessPooler pooler(session_config(
        {}, {}, {{"ssl", key_pair_ssl({{"client_ca_file", pki.file("ca.crt")}, {"client_cert", "optional"}})}}));
    const ClientOutcome none = connect_with(tls_conninfo(pooler, "localhost", "sslmode=verify-full" + root));
    INFO(none.error);
    CHECK(none.connected);
    CHECK_FALSE(connect_with(tls_conninfo(pooler, "localhost", "sslmode=verify-full" + root + stranger)).connected);
    CHECK(connect_with(tls_conninfo(pooler, "localhost", "sslmode=verify-full" + root + good)).connected);
  }
}

namespace {

// Fails every client with a message that says what pggat knows of its TLS.
class TlsFactsHandler : public Handler {
 public:
  asio::awaitable<Verdict> handle(Client& client) override {
    std::string hex;
    for (std::uint8_t b : client.tls_server_end_point()) {
      static constexpr char digits[] = "0123456789abcdef";
      hex += digits[b >> 4];
      hex += digits[b & 15];
    }
    co_return Verdict::fail(PgError::fatal("XX000", std::string("ssl=") + (client.ssl() ? "yes" : "no") +
                                                          " end_point=" + hex + "."));
  }
};

}  // namespace

TEST_CASE("TLS to clients: Client::ssl and the tls-server-end-point channel binding", "[tls]") {
  const Pki& pki = Pki::instance();
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  auto log = std::make_shared<spdlog::logger>("tls-test", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  log->set_level(spdlog::level::warn);
  App app(io.get_executor(), log);
  Server server;
  ListenerOptions listener;
  listener.address = "127.0.0.1:0";
  listener.ssl = ListenerTls{};
  listener.ssl->provider = ListenerTls::Provider::x509_key_pair;
  listener.ssl->cert_file = pki.file("server.crt");
  listener.ssl->key_file = pki.file("server.key");
  server.add_listener(listener);
  server.add_route(Route{nullptr, std::make_shared<TlsFactsHandler>()});
  app.add_server(std::move(server));
  app.start();
  const std::string bound = app.bound_addresses().at(0);
  const std::string port = bound.substr(bound.rfind(':') + 1);
  std::thread thread([&] { io.run(); });

  const std::string base = "host=127.0.0.1 port=" + port + " user=app dbname=app connect_timeout=10 ";
  const std::string tls = connect_with(base + "sslmode=require").error;
  const std::string plain = connect_with(base + "sslmode=disable").error;
  std::promise<void> stopped;
  app.shutdown(std::chrono::nanoseconds(0), [&] { stopped.set_value(); });
  stopped.get_future().wait();
  work.reset();
  io.stop();
  thread.join();

  INFO(tls);
  // Our certificate is ECDSA with SHA-256: the end point is its SHA-256.
  CHECK(tls.find("ssl=yes end_point=" + pki.sha256_hex("server.crt") + ".") != std::string::npos);
  INFO(plain);
  CHECK(plain.find("ssl=no end_point=.") != std::string::npos);
}

TEST_CASE("TLS to servers: a server without TLS", "[tls]") {
  // The test cluster runs with ssl = off unless a test turns it on.
  SECTION("require fails with 08006 naming the reason") {
    InProcessPooler pooler(session_config({}, {{"ssl_mode", "require"}}));
    RawClient raw("127.0.0.1", pooler.port());
    raw.send_startup("app", "app");
    const auto error = raw.read_error();
    REQUIRE(error);
    CHECK(error->code == "08006");
    CHECK(error->message.find("server does not support TLS, and ssl_mode is require") != std::string::npos);
  }
  SECTION("prefer falls back to plain") {
    InProcessPooler pooler(session_config({}, {{"ssl_mode", "prefer"}}));
    PqConnection c(pooler.conninfo());
    CHECK(c.exec("select ssl from pg_stat_ssl where pid = pg_backend_pid()").value() == "f");
  }
}

TEST_CASE("TLS to servers: verification against the test PostgreSQL", "[tls]") {
  const Pki& pki = Pki::instance();
  const SslGuard ssl_on(pki.file("pg.crt"), pki.file("pg.key"));
  const std::string port = std::to_string(PostgresServer::instance().port());
  const std::string encrypted = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";

  auto server_error = [](const nlohmann::json& recipe) {
    InProcessPooler pooler(session_config({}, recipe));
    RawClient raw("127.0.0.1", pooler.port());
    raw.send_startup("app", "app");
    return raw.read_error();
  };

  SECTION("verify-full with the right root certificate") {
    InProcessPooler pooler(session_config(
        {}, {{"ssl_mode", "verify-full"}, {"ssl", {{"root_cert_file", pki.file("ca.crt")}}}}));
    PqConnection c(pooler.conninfo());
    CHECK(c.exec(encrypted).value() == "t");
  }
  SECTION("verify-full with a wrong root certificate fails with 08006") {
    const auto error =
        server_error({{"ssl_mode", "verify-full"}, {"ssl", {{"root_cert_file", pki.file("other-ca.crt")}}}});
    REQUIRE(error);
    INFO(error->message);
    CHECK(error->code == "08006");
    CHECK(error->message.find("certificate verify failed") != std::string::npos);
  }
  SECTION("verify-full with a wrong host name fails with 08006; verify-ca does not check it") {
    const nlohmann::json ssl = {{"root_cert_file", pki.file("ca.crt")}};
    const auto error = server_error({{"address", "localhost:" + port}, {"ssl_mode", "verify-full"}, {"ssl", ssl}});
    REQUIRE(error);
    INFO(error->message);
    CHECK(error->code == "08006");
    CHECK(error->message.find("hostname mismatch") != std::string::npos);

    InProcessPooler pooler(session_config({}, {{"address", "localhost:" + port}, {"ssl_mode", "verify-ca"}, {"ssl", ssl}}));
    PqConnection c(pooler.conninfo());
    CHECK(c.exec(encrypted).value() == "t");
  }
  SECTION("require encrypts without verifying; insecure_skip_verify likewise") {
    {
      InProcessPooler pooler(session_config({}, {{"ssl_mode", "require"}}));
      PqConnection c(pooler.conninfo());
      CHECK(c.exec(encrypted).value() == "t");
    }
    // pggat's own form: an ssl object alone means prefer.
    InProcessPooler pooler(session_config({}, {{"ssl", {{"provider", "insecure_skip_verify"}}}}));
    PqConnection c(pooler.conninfo());
    CHECK(c.exec(encrypted).value() == "t");
  }
  SECTION("disable stays plain, and the transaction relay works over TLS") {
    {
      InProcessPooler pooler(session_config({}, {{"ssl_mode", "disable"}}));
      PqConnection c(pooler.conninfo());
      CHECK(c.exec(encrypted).value() == "f");
    }
    InProcessPooler pooler(session_config({{"mode", "transaction"}}, {{"ssl_mode", "require"}}));
    PqConnection c(pooler.conninfo());
    // Enough rows to span many TLS records in both directions.
    CHECK(c.exec("select count(*) from generate_series(1, 100000)").value() == "100000");
    CHECK(c.exec("select length(string_agg(md5(g::text), '')) from generate_series(1, 20000) g").value() ==
          "640000");
    CHECK(c.exec(encrypted).value() == "t");
  }
}

TEST_CASE("TLS and client auth: SCRAM-SHA-256-PLUS with channel binding, require_ssl, the ssl matcher",
          "[tls][auth]") {
  const Pki& pki = Pki::instance();
  nlohmann::json config = session_config({}, {}, {{"ssl", key_pair_ssl()}});
  nlohmann::json& routes = config["servers"][0]["routes"];
  const nlohmann::json pool_route = routes[0];
  routes = nlohmann::json::array();
  routes.push_back({{"match", {{"matcher", "ssl"}, {"ssl", false}}},
                    {"handle", {{"handler", "require_ssl"}, {"ssl", true}}}});
  routes.push_back({{"match", pool_route["match"]},
                    {"handle", {{"handler", "rewrite_password"}, {"password", "tls-pw"}}}});
  routes.push_back(pool_route);
  InProcessPooler pooler(config);
  const std::string tls = "sslmode=verify-full sslrootcert=" + pki.file("ca.crt");

  const ClientOutcome bound =
      connect_with(tls_conninfo(pooler, "localhost", tls + " password=tls-pw channel_binding=require"));
  INFO(bound.error);
  CHECK(bound.connected);
  CHECK(bound.ssl_in_use);

  const ClientOutcome wrong =
      connect_with(tls_conninfo(pooler, "localhost", tls + " password=nope channel_binding=require"));
  CHECK_FALSE(wrong.connected);
  CHECK(wrong.error.find("password authentication failed for user \"app\"") != std::string::npos);

  // Plain clients are refused before any password is asked.
  const ClientOutcome plain =
      connect_with(tls_conninfo(pooler, "127.0.0.1", "sslmode=disable password=tls-pw"));
  CHECK_FALSE(plain.connected);
  CHECK(plain.error.find("SSL is required") != std::string::npos);
}

// pg_hba.conf with a first line refusing `tlsonly` without TLS, for as long as it lives.
class TlsOnlyRole {
 public:
  TlsOnlyRole() {
    const PostgresServer& pg = PostgresServer::instance();
    pg.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tlsonly') THEN "
               "CREATE ROLE tlsonly LOGIN PASSWORD 'tls-pass'; END IF; END $$");
    pg.execute("GRANT CONNECT ON DATABASE app TO tlsonly");
    hba_ = pg.data_dir() + "/pg_hba.conf";
    original_ = read_file(hba_);
    write_file(hba_, "hostnossl all tlsonly all reject\n" + original_);
    pg.execute("SELECT pg_reload_conf()");
    // The postmaster rereads pg_hba.conf on its own time.
    REQUIRE(eventually(
        [&] {
          return connection_error(pg.conninfo("tlsonly", "tls-pass") + " sslmode=disable")
                     .find("no encryption") != std::string::npos;
        },
        std::chrono::seconds(10)));
  }
  ~TlsOnlyRole() {
    write_file(hba_, original_);
    PostgresServer::instance().execute("SELECT pg_reload_conf()");
  }
  TlsOnlyRole(const TlsOnlyRole&) = delete;
  TlsOnlyRole& operator=(const TlsOnlyRole&) = delete;

 private:
  std::string hba_;
  std::string original_;
};

TEST_CASE("TLS to servers: allow tries plain first, then TLS when the server refuses plain", "[tls]") {
  const Pki& pki = Pki::instance();
  const SslGuard ssl_on(pki.file("pg.crt"), pki.file("pg.key"));
  const TlsOnlyRole role;
  const nlohmann::json recipe = {{"username", "tlsonly"}, {"password", "tls-pass"}};

  nlohmann::json allow = recipe;
  allow["ssl_mode"] = "allow";
  InProcessPooler pooler(session_config({}, allow));
  PqConnection c(pooler.conninfo());
  CHECK(c.exec("select current_user").value() == "tlsonly");
  CHECK(c.exec("select ssl from pg_stat_ssl where pid = pg_backend_pid()").value() == "t");

  // disable never tries TLS: the client hears the server's refusal.
  nlohmann::json disable = recipe;
  disable["ssl_mode"] = "disable";
  InProcessPooler plain(session_config({}, disable));
  const std::string error = connection_error(plain.conninfo());
  CHECK(error.find("no encryption") != std::string::npos);
}
