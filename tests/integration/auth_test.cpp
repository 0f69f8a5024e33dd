// Client authentication and the handlers and matchers that shape a client
// before its pool: real libpq clients against pggat, right and wrong.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "auth/md5.hpp"
#include "auth/scram_secret.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "pggat/registry.hpp"
#include "support/pggat_process.hpp"
#include "support/pooler.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"
#include "support/raw_client.hpp"

using namespace pggat;
using namespace pggat::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// session_config with `handlers` run first, by routes of their own matching
// the same databases as the pool's.
json with_handlers(json config, const std::vector<json>& handlers) {
  json& routes = config["servers"][0]["routes"];
  json pool_route = routes[0];
  routes = json::array();
  for (const json& h : handlers) routes.push_back({{"match", pool_route["match"]}, {"handle", h}});
  routes.push_back(pool_route);
  return config;
}

json password_handler(const std::string& password, const std::string& delay = "200ms") {
  return {{"handler", "rewrite_password"}, {"password", password}, {"failure_delay", delay}};
}

std::string scram_secret_of(const std::string& password) {
  return auth::ScramSecret::generate(password)->to_string();
}

std::string with_password(const InProcessPooler& p, const std::string& user,
                          const std::string& password) {
  return p.conninfo("app", user, "password=" + password);
}

// The authentication request pggat opens with, for a raw client.
std::optional<proto::be::AuthCode> first_auth_request(const InProcessPooler& p,
                                                      const std::string& user) {
  RawClient raw("127.0.0.1", p.port());
  raw.send_startup(user, "app");
  const auto m = raw.read();
  if (!m || m->type != 'R') return std::nullopt;
  return proto::be::auth_code(m->body);
}

std::string failed_login(const std::string& conninfo) { return connection_error(conninfo); }

const std::string wrong_password_app = "password authentication failed for user \"app\"";

}  // namespace

TEST_CASE("client auth: a plaintext password is checked with SCRAM-SHA-256", "[auth]") {
  InProcessPooler p(with_handlers(session_config(), {password_handler("s3cret")}));
  CHECK(first_auth_request(p, "app") == proto::be::AuthCode::sasl);
  PqConnection ok(with_password(p, "app", "s3cret"));
  CHECK(ok.exec("select current_user").value(0, 0) == "app");
  const std::string error = failed_login(with_password(p, "app", "wrong"));
  CHECK_THAT(error, Catch::Contains(wrong_password_app));
  // libpq asks for a password it was not given: pggat never lets it in.
  CHECK_THAT(failed_login(p.conninfo()), Catch::Contains("password"));
}

TEST_CASE("client auth: an md5 hash gets an MD5 challenge (pass-the-hash)", "[auth]") {
  const std::string hash = *auth::md5_password_hash("app", "md5-secret");
  InProcessPooler p(with_handlers(session_config(), {password_handler(hash)}));
  CHECK(first_auth_request(p, "app") == proto::be::AuthCode::md5_password);
  PqConnection ok(with_password(p, "app", "md5-secret"));
  CHECK(ok.exec("select 1").value(0, 0) == "1");
  CHECK_THAT(failed_login(with_password(p, "app", "md5-wrong")), Catch::Contains(wrong_password_app));

  // At the byte level: the SQLSTATE is PostgreSQL's for a wrong password.
  RawClient raw("127.0.0.1", p.port());
  raw.send_startup("app", "app");
  const auto challenge = raw.read();
  REQUIRE(challenge);
  REQUIRE(challenge->type == 'R');
  proto::Buffer answer;
  proto::fe::PasswordMessage{"md5" + std::string(32, '0')}.encode(answer);
  raw.send(answer);
  const auto error = raw.read_error();
  REQUIRE(error);
  CHECK(error->code == "28P01");
  CHECK(error->message == wrong_password_app);
  CHECK(raw.closed());
}

TEST_CASE("client auth: a SCRAM secret is verified without the plaintext", "[auth]") {
  InProcessPooler p(with_handlers(session_config(), {password_handler(scram_secret_of("scram-pw"))}));
  CHECK(first_auth_request(p, "app") == proto::be::AuthCode::sasl);
  PqConnection ok(with_password(p, "app", "scram-pw"));
  CHECK(ok.exec("select 1").value(0, 0) == "1");
  CHECK_THAT(failed_login(with_password(p, "app", "scram-wrong")), Catch::Contains(wrong_password_app));
}

TEST_CASE("client auth: an empty password or no rewrite_password is trust", "[auth]") {
  InProcessPooler p(with_handlers(session_config(), {password_handler("")}));
  CHECK(first_auth_request(p, "app") == proto::be::AuthCode::ok);
  PqConnection ok(p.conninfo());
  CHECK(ok.exec("select 1").value(0, 0) == "1");
}

TEST_CASE("client auth: auth_file users, and unknown users fail like wrong passwords", "[auth]") {
  TempDir dir;
  const std::string file = dir / "userlist.txt";
  {
    std::ofstream out(file);
    out << "; PgBouncer's format\n"
        << "\"app\" \"plain-pw\"\n"
        << "\"md5app\" \"" << *auth::md5_password_hash("md5app", "md5-pw") << "\"\n"
        << "\"scramapp\" \"" << scram_secret_of("scram-pw") << "\" \"ignored field\"\n"
        << "\"quo\"\"ted\" \"q-pw\"\n";
  }
  json handler = {{"handler", "rewrite_password"}, {"auth_file", file}, {"failure_delay", "300ms"}};
  // Everyone logs in to the server as app, whoever they are to pggat.
  InProcessPooler p(with_handlers(session_config(), {handler}));
  for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
           {"app", "plain-pw"}, {"md5app", "md5-pw"}, {"scramapp", "scram-pw"}, {"quo\"ted", "q-pw"}}) {
    INFO(user);
    const std::string quoted_user = "'" + user + "'";
    PqConnection ok(p.conninfo("app", quoted_user, "password=" + password));
    CHECK(ok.exec("select current_user").value(0, 0) == "app");
  }
  CHECK(first_auth_request(p, "md5app") == proto::be::AuthCode::md5_password);
  CHECK(first_auth_request(p, "scramapp") == proto::be::AuthCode::sasl);
  // Most secrets are not MD5: unknown users get SCRAM too.
  CHECK(first_auth_request(p, "nobody") == proto::be::AuthCode::sasl);

  auto timed_failure = [&](const std::string& user, const std::string& password) {
    const auto start = Clock::now();
    const std::string error = failed_login(p.conninfo("app", user, "password=" + password));
    return std::pair{error, Clock::now() - start};
  };
  const auto [wrong, wrong_took] = timed_failure("scramapp", "nope");
  const auto [unknown, unknown_took] = timed_failure("nobody", "nope");
  CHECK_THAT(wrong, Catch::Contains("password authentication failed for user \"scramapp\""));
  CHECK_THAT(unknown, Catch::Contains("password authentication failed for user \"nobody\""));
  // Both wait out the failure delay before the error.
  CHECK(wrong_took >= std::chrono::milliseconds(300));
  CHECK(unknown_took >= std::chrono::milliseconds(300));
}

TEST_CASE("client auth: a bad auth_file is a config error naming the file and line", "[auth]") {
  TempDir dir;
  const std::string file = dir / "userlist.txt";
  {
    std::ofstream out(file);
    out << "\"app\" \"pw\"\n"
        << "app pw\n";
  }
  json config = with_handlers(session_config(), {{{"handler", "rewrite_password"}, {"auth_file", file}}});
  Registry registry;
  register_builtins(registry);
  try {
    (void)load_config(config, registry);
    FAIL("a malformed auth file was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.path() == "servers[0].routes[0].handle.auth_file");
    CHECK_THAT(e.problem(), Catch::Contains(file + ":2"));
    CHECK_THAT(e.problem(), Catch::Contains("double quotes"));
  }
  config = with_handlers(session_config(),
                         {{{"handler", "rewrite_password"}, {"auth_file", dir / "missing"}}});
  CHECK_THROWS_WITH(load_config(config, registry), Catch::Contains("cannot read the auth file"));
  config = with_handlers(session_config(), {{{"handler", "rewrite_password"}}});
  CHECK_THROWS_WITH(load_config(config, registry), Catch::Contains("exactly one of"));
}

TEST_CASE("client auth: a client that stops in the middle of SCRAM is cut at startup_timeout",
          "[auth]") {
  InProcessPooler p(with_handlers(session_config({}, {}, {{"startup_timeout", "300ms"}}),
                                  {password_handler("s3cret")}));
  RawClient stalled("127.0.0.1", p.port());
  stalled.send_startup("app", "app");
  const auto challenge = stalled.read();
  REQUIRE(challenge);
  CHECK(challenge->type == 'R');
  // Meanwhile others log in as usual.
  PqConnection ok(with_password(p, "app", "s3cret"));
  CHECK(ok.exec("select 1").value(0, 0) == "1");
  const auto error = stalled.read_error(std::chrono::seconds(5));
  REQUIRE(error);
  CHECK(error->code == "08006");
  CHECK(error->message == "authentication timed out");
  CHECK(stalled.closed(std::chrono::seconds(5)));
}

TEST_CASE("handlers: rewrite_user, rewrite_database and rewrite_parameter", "[auth][handlers]") {
  json config = with_handlers(
      session_config({}, {{"database", "app"}}),
      {{{"handler", "rewrite_user"}, {"mode", "strip_suffix"}, {"user", "@tenant"}},
       {{"handler", "rewrite_database"}, {"mode", "strip_prefix"}, {"database", "x_"}},
       {{"handler", "rewrite_parameter"}, {"key", "application_name"}, {"value", "rewritten"}},
       {{"handler", "rewrite_password"}, {"password", "pw"}}});
  // Matchers see the client as it arrived.
  for (json& route : config["servers"][0]["routes"]) route["match"] = {{"matcher", "user"}, {"user", "app@*"}};
  InProcessPooler p(config);
  // The password check sees the rewritten user: "app".
  PqConnection c(p.conninfo("x_app", "app@tenant", "password=pw application_name=original"));
  CHECK(c.exec("show application_name").value(0, 0) == "rewritten");
}

TEST_CASE("handlers: allowed_startup_parameters, require_ssl and error", "[auth][handlers]") {
  SECTION("a startup parameter not listed is refused with 0A000 naming it") {
    InProcessPooler p(with_handlers(
        session_config(), {{{"handler", "allowed_startup_parameters"},
                            {"parameters", {"application_name", "client_encoding", "DateStyle"}}}}));
    PqConnection ok(p.conninfo("app", "app", "application_name=fine"));
    CHECK(ok.exec("select 1").value(0, 0) == "1");
    const std::string error = failed_login(p.conninfo("app", "app", "options='-c work_mem=64kB'"));
    CHECK_THAT(error, Catch::Contains("unsupported startup parameter: work_mem"));
  }
  SECTION("require_ssl refuses a plain connection with 28000") {
    InProcessPooler p(with_handlers(session_config(), {{{"handler", "require_ssl"}, {"ssl", true}}}));
    CHECK_THAT(failed_login(p.conninfo()), Catch::Contains("SSL is required"));
    RawClient raw("127.0.0.1", p.port());
    raw.send_startup("app", "app");
    const auto error = raw.read_error();
    REQUIRE(error);
    CHECK(error->code == "28000");
  }
  SECTION("error sends its message and code") {
    InProcessPooler p(with_handlers(
        session_config(),
        {{{"handler", "error"}, {"message", "app moved to db2.example"}, {"code", "08004"}}}));
    RawClient raw("127.0.0.1", p.port());
    raw.send_startup("app", "app");
    const auto error = raw.read_error();
    REQUIRE(error);
    CHECK(error->code == "08004");
    CHECK(error->message == "app moved to db2.example");
  }
}

TEST_CASE("matchers: startup_parameter, ssl and local_address pick routes", "[auth][handlers]") {
  json config = session_config();
  json& routes = config["servers"][0]["routes"];
  const json pool_route = routes[0];
  routes = json::array();
  routes.push_back({{"match", {{"matcher", "startup_parameter"}, {"key", "application_name"}, {"value", "batch-*"}}},
                    {"handle", {{"handler", "error"}, {"message", "no batch jobs here"}}}});
  routes.push_back({{"match", {{"matcher", "ssl"}, {"ssl", true}}},
                    {"handle", {{"handler", "error"}, {"message", "only plain clients here"}}}});
  routes.push_back({{"match", {{"matcher", "local_address"}, {"network", "unix"}}},
                    {"handle", {{"handler", "error"}, {"message", "no unix clients here"}}}});
  routes.push_back({{"match", {{"matcher", "local_address"}, {"network", "tcp"}, {"address", "127.0.0.1:*"}}},
                    {"handle", pool_route["handle"]}});
  InProcessPooler p(config);
  CHECK_THAT(failed_login(p.conninfo("app", "app", "application_name=batch-7")),
             Catch::Contains("no batch jobs here"));
  PqConnection ok(p.conninfo("app", "app", "application_name=web-1"));
  CHECK(ok.exec("select 1").value(0, 0) == "1");
}

TEST_CASE("handler and matcher config errors name the field", "[auth][handlers]") {
  Registry registry;
  register_builtins(registry);
  auto error_of = [&](const json& handler) -> std::string {
    try {
      (void)load_config(with_handlers(session_config(), {handler}), registry);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error_of({{"handler", "rewrite_user"}, {"mode", "upcase"}, {"user", "x"}}),
             Catch::Contains("servers[0].routes[0].handle.mode: unknown mode \"upcase\""));
  CHECK_THAT(error_of({{"handler", "rewrite_parameter"}, {"key", ""}, {"value", "x"}}),
             Catch::Contains("handle.key: must not be empty"));
  CHECK_THAT(error_of({{"handler", "error"}, {"message", "x"}, {"code", "123"}}),
             Catch::Contains("handle.code: a SQLSTATE has 5 characters"));
  json bad_matcher = session_config();
  bad_matcher["servers"][0]["routes"][0]["match"] = {{"matcher", "local_address"}, {"network", "udp"}};
  CHECK_THROWS_WITH(load_config(bad_matcher, registry), Catch::Contains("match.network: must be \"tcp\" or \"unix\""));
}

TEST_CASE("client auth: SCRAM pass-through logs in to the server with the client's proof", "[auth]") {
  // The server's own secret for app: pggat never sees the plaintext.
  const std::string secret =
      PostgresServer::instance().execute("select rolpassword from pg_authid where rolname = 'app'")[0][0].c_str();
  REQUIRE(secret.starts_with("SCRAM-SHA-256$"));

  InProcessPooler p(with_handlers(session_config({}, {{"password", secret}, {"min_connections", 1}}),
                                  {password_handler(secret)}));
  // A wrong password proves nothing.
  CHECK_THAT(failed_login(with_password(p, "app", "not-app-pass")), Catch::Contains(wrong_password_app));

  PqConnection c(with_password(p, "app", std::string(app_role.password)));
  CHECK(c.exec("select current_user").value(0, 0) == "app");
  PqConnection second(with_password(p, "app", std::string(app_role.password)));
  CHECK(second.exec("select 2").value(0, 0) == "2");
}
