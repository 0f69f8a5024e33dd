// load_config: the example configs, the Go wrapping, and errors with their exact JSON paths.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include "../frontend/test_client.hpp"
#include "pggat/config.hpp"
#include "pggat/registry.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using nlohmann::json;
using pggat::Config;
using pggat::ConfigError;
using pggat::Registry;
using pggat::test::TestClient;
using namespace std::chrono_literals;

namespace {

Registry builtins() {
  Registry r;
  pggat::register_builtins(r);
  return r;
}

// A small valid config; tests change one thing and look at the error.
json base_config() {
  return json::parse(R"({
    "servers": [{
      "listen": [{"address": "127.0.0.1:6432"}],
      "routes": [{
        "match": {"matcher": "user", "user": "app"},
        "handle": {
          "handler": "pool",
          "pool": {"pool": "basic", "mode": "session"},
          "recipe": {"address": "127.0.0.1:5432", "username": "app"}
        }
      }]
    }]
  })");
}

json& route0(json& config) {
  return config["servers"][0]["routes"][0];
}
json& recipe0(json& config) {
  return route0(config)["handle"]["recipe"];
}
json& pool0(json& config) {
  return route0(config)["handle"]["pool"];
}
json& listener0(json& config) {
  return config["servers"][0]["listen"][0];
}

// load_config must refuse `config` with a ConfigError, which is returned.
ConfigError error_of(const json& config, const Registry& registry = builtins()) {
  try {
    (void)pggat::load_config(config, registry);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("config was accepted: " << config.dump());
  throw std::logic_error("unreachable");
}

std::filesystem::path source_file(const char* relative) {
  return std::filesystem::path(PGGAT_SOURCE_ROOT) / relative;
}

// A file in a fresh temporary directory, removed with it.
struct TempFile {
  explicit TempFile(std::string_view contents) {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() /
          ("pggat-unit-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    path = dir / "config.json";
    std::ofstream(path) << contents;
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  std::filesystem::path dir;
  std::filesystem::path path;
};

std::vector<std::string> addresses(const pggat::Server& s) {
  std::vector<std::string> out;
  for (const auto& l : s.listeners()) out.push_back(l.address);
  return out;
}

}  // namespace

TEST_CASE("load_config_file loads examples/session.json", "[config][load]") {
  const Config config = pggat::load_config_file(source_file("examples/session.json"), builtins());
  REQUIRE(config.servers.size() == 1);
  const pggat::Server& server = config.servers[0];
  CHECK(addresses(server) == std::vector<std::string>{"127.0.0.1:6432", "/tmp/pggat"});
  CHECK(server.listeners()[0].startup_timeout == 15s);  // defaults
  CHECK(server.listeners()[0].max_connections == 0);
  CHECK(server.listeners()[1].unix_socket_mode == 0777);
  REQUIRE(server.routes().size() == 1);
  const pggat::Route& route = server.routes()[0];
  REQUIRE(route.match != nullptr);
  CHECK(route.handle != nullptr);
  // What a reload compares: the handle's JSON, as written.
  CHECK(json::parse(route.source).at("handler") == "pool");
  CHECK(json::parse(route.source).at("recipe").contains("address"));
  // The route's matcher is the example's {"matcher": "database", "database": "app*"}.
  TestClient app("u", "app_reports");
  TestClient other("app", "postgres");
  CHECK(route.match->matches(app.client()));
  CHECK_FALSE(route.match->matches(other.client()));
  CHECK(config.stat_log_period == 0s);
  CHECK(config.shutdown_timeout == 30s);
  CHECK(config.threads == 0);  // one per core
}

TEST_CASE("load_config: threads", "[config][load]") {
  json two = base_config();
  two["threads"] = 2;
  CHECK(pggat::load_config(two, builtins()).threads == 2);

  json negative = base_config();
  negative["threads"] = -1;
  const ConfigError n = error_of(negative);
  CHECK(n.path() == "threads");
  CHECK_THAT(n.problem(), Contains("between 0 and 1024"));

  json text = base_config();
  text["threads"] = "4";
  const ConfigError t = error_of(text);
  CHECK(t.path() == "threads");
  CHECK_THAT(t.problem(), Contains("expected an integer"));
}

TEST_CASE("load_config: thread_fill", "[config][load]") {
  CHECK(pggat::load_config(base_config(), builtins()).thread_fill == 75);
  json none = base_config();
  none["thread_fill"] = 0;
  CHECK(pggat::load_config(none, builtins()).thread_fill == 0);

  json over = base_config();
  over["thread_fill"] = 101;
  const ConfigError o = error_of(over);
  CHECK(o.path() == "thread_fill");
  CHECK_THAT(o.problem(), Contains("between 0 and 100"));

  json fraction = base_config();
  fraction["thread_fill"] = 0.75;
  const ConfigError f = error_of(fraction);
  CHECK(f.path() == "thread_fill");
  CHECK_THAT(f.problem(), Contains("expected an integer"));
}

TEST_CASE("load_config_file loads examples/transaction.json (pooler rob)", "[config][load]") {
  const Config config = pggat::load_config_file(source_file("examples/transaction.json"), builtins());
  REQUIRE(config.servers.size() == 1);
  REQUIRE(config.servers[0].routes().size() == 1);
  CHECK(config.servers[0].routes()[0].handle != nullptr);
}

TEST_CASE("load_config accepts the Go wrapping {\"apps\": {\"pggat\": ...}}", "[config][load]") {
  std::ifstream in(source_file("examples/session.json"));
  REQUIRE(in);
  const json bare = json::parse(in);
  const json wrapped = {{"apps", {{"pggat", bare}}}, {"admin", {{"disabled", true}}}};
  const Registry registry = builtins();
  const Config a = pggat::load_config(bare, registry);
  const Config b = pggat::load_config(wrapped, registry);
  REQUIRE(a.servers.size() == b.servers.size());
  for (std::size_t i = 0; i < a.servers.size(); ++i) {
    CHECK(addresses(a.servers[i]) == addresses(b.servers[i]));
    REQUIRE(a.servers[i].routes().size() == b.servers[i].routes().size());
    for (std::size_t k = 0; k < a.servers[i].routes().size(); ++k) {
      const auto& ra = a.servers[i].routes()[k];
      const auto& rb = b.servers[i].routes()[k];
      CHECK((ra.match == nullptr) == (rb.match == nullptr));
      CHECK(rb.handle != nullptr);
      TestClient c("u", "app");
      if (ra.match) CHECK(ra.match->matches(c.client()) == rb.match->matches(c.client()));
    }
  }

  // Errors inside the wrapping say where they are in the file.
  json bad = wrapped;
  bad["apps"]["pggat"]["servers"][0]["listen"][0].erase("address");
  const ConfigError e = error_of(bad);
  CHECK(e.path() == "apps.pggat.servers[0].listen[0].address");
  CHECK(e.problem() == "missing");

  CHECK(error_of(json{{"apps", {{"http", json::object()}}}}).path() == "apps.http");
  CHECK(error_of(json{{"apps", {{"pggat", bare}}}, {"extra", 1}}).path() == "extra");
}

TEST_CASE("load_config reads durations as strings and as integer nanoseconds", "[config][load]") {
  json as_strings = base_config();
  as_strings["stat_log_period"] = "1m";
  as_strings["shutdown_timeout"] = "2.5s";
  listener0(as_strings)["startup_timeout"] = "1500ms";
  pool0(as_strings)["client_acquire_timeout"] = "5s";
  recipe0(as_strings)["connect_timeout"] = "1h30m";

  json as_integers = base_config();
  as_integers["stat_log_period"] = 60'000'000'000LL;
  as_integers["shutdown_timeout"] = 2'500'000'000LL;
  listener0(as_integers)["startup_timeout"] = 1'500'000'000LL;
  pool0(as_integers)["client_acquire_timeout"] = 5'000'000'000LL;
  recipe0(as_integers)["connect_timeout"] = 5'400'000'000'000LL;

  const Registry registry = builtins();
  for (const json& j : {as_strings, as_integers}) {
    const Config c = pggat::load_config(j, registry);
    CHECK(c.stat_log_period == 1min);
    CHECK(c.shutdown_timeout == 2500ms);
    CHECK(c.servers.at(0).listeners().at(0).startup_timeout == 1500ms);
  }
}

TEST_CASE("load_config reads listener options", "[config][load]") {
  json j = base_config();
  j["servers"][0]["listen"] = json::parse(R"([
      {"address": "127.0.0.1:6432", "max_connections": 100, "max_message_size": 2048, "reuse_port": true},
      {"address": "/tmp/a", "unix_socket_mode": "0770"},
      {"address": "/tmp/b", "unix_socket_mode": 416},
      {"address": "[::1]:6432"}])");
  const Config c = pggat::load_config(j, builtins());
  const auto& l = c.servers.at(0).listeners();
  REQUIRE(l.size() == 4);
  CHECK(l[0].max_connections == 100);
  CHECK(l[0].max_message_size == 2048);
  CHECK(l[0].reuse_port);
  CHECK_FALSE(l[1].reuse_port);
  CHECK(l[1].unix_socket_mode == 0770);
  CHECK(l[2].unix_socket_mode == 0640);
  CHECK(l[3].address == "[::1]:6432");
}

TEST_CASE("load_config: unix_socket_mode errors", "[config][load]") {
  for (const json& mode : {json("0778"), json("rwx"), json(""), json("01000"), json(512), json(-1),
                           json("-1"), json(" 0770"), json("+770"), json("0770 "), json(true)}) {
    json j = base_config();
    listener0(j) = {{"address", "/tmp/a"}, {"unix_socket_mode", mode}};
    INFO(mode.dump());
    CHECK(error_of(j).path() == "servers[0].listen[0].unix_socket_mode");
  }
}

TEST_CASE("load_config: a missing or misspelt field names its path", "[config][load]") {
  json no_address = base_config();
  recipe0(no_address).erase("address");
  const ConfigError missing = error_of(no_address);
  CHECK(missing.path() == "servers[0].routes[0].handle.recipe.address");
  CHECK(missing.problem() == "missing");
  CHECK(std::string(missing.what()) == "servers[0].routes[0].handle.recipe.address: missing");

  json typo = base_config();
  recipe0(typo)["adress"] = "127.0.0.1:5432";
  const ConfigError unknown = error_of(typo);
  CHECK(unknown.path() == "servers[0].routes[0].handle.recipe.adress");
  CHECK_THAT(unknown.problem(), StartsWith("unknown field (known fields: address, ") &&
                                    Contains("username") && Contains("connect_timeout"));

  json no_user = base_config();
  recipe0(no_user).erase("username");
  CHECK(error_of(no_user).path() == "servers[0].routes[0].handle.recipe.username");

  json empty_user = base_config();
  recipe0(empty_user)["username"] = "";
  const ConfigError e = error_of(empty_user);
  CHECK(e.path() == "servers[0].routes[0].handle.recipe.username");
  CHECK(e.problem() == "must not be empty");

  CHECK(error_of(json::object()).path() == "servers");
  json top_typo = base_config();
  top_typo["server"] = json::array();
  CHECK(error_of(top_typo).path() == "server");
  json server_typo = base_config();
  server_typo["servers"][0]["listeners"] = json::array();
  CHECK(error_of(server_typo).path() == "servers[0].listeners");
  json handle_typo = base_config();
  route0(handle_typo)["handler"] = "pool";
  CHECK(error_of(handle_typo).path() == "servers[0].routes[0].handler");
  json no_handle = base_config();
  route0(no_handle).erase("handle");
  CHECK(error_of(no_handle).path() == "servers[0].routes[0].handle");
}

TEST_CASE("load_config: unknown handler, matcher and pool names list the known ones",
          "[config][load]") {
  json handler = base_config();
  route0(handler)["handle"]["handler"] = "pol";
  const ConfigError h = error_of(handler);
  CHECK(h.path() == "servers[0].routes[0].handle.handler");
  CHECK(h.problem() == "unknown handler \"pol\" (known: allowed_startup_parameters, error, pool, require_ssl, rewrite_database, rewrite_parameter, rewrite_password, rewrite_user)");

  json matcher = base_config();
  route0(matcher)["match"] = {{"matcher", "application_name"}, {"application_name", "x"}};
  const ConfigError m = error_of(matcher);
  CHECK(m.path() == "servers[0].routes[0].match.matcher");
  CHECK(m.problem() ==
        "unknown matcher \"application_name\" (known: and, database, local_address, not, or, ssl, startup_parameter, user)");

  json pool = base_config();
  pool0(pool)["pool"] = "hybird";
  const ConfigError p = error_of(pool);
  CHECK(p.path() == "servers[0].routes[0].handle.pool.pool");
  CHECK(p.problem() == "unknown pool \"hybird\" (known: basic, hybrid)");
}

TEST_CASE("load_config: wrong types say what was expected", "[config][load]") {
  json ten = base_config();
  recipe0(ten)["max_connections"] = "ten";
  const ConfigError e = error_of(ten);
  CHECK(e.path() == "servers[0].routes[0].handle.recipe.max_connections");
  CHECK(e.problem() == "expected an integer, got a string");

  json servers = base_config();
  servers["servers"] = json::object();
  CHECK(error_of(servers).problem() == "expected an array, got an object");

  json listen = base_config();
  listener0(listen) = "127.0.0.1:6432";
  const ConfigError l = error_of(listen);
  CHECK(l.path() == "servers[0].listen[0]");
  CHECK(l.problem() == "expected an object, got a string");

  json match = base_config();
  route0(match)["match"] = "app";
  CHECK(error_of(match).path() == "servers[0].routes[0].match");

  json params = base_config();
  recipe0(params)["parameters"] = {{"search_path", 1}};
  const ConfigError pe = error_of(params);
  CHECK(pe.path() == "servers[0].routes[0].handle.recipe.parameters.search_path");
  CHECK(pe.problem() == "expected a string");

  json flag = base_config();
  pool0(flag)["release_after_transaction"] = "no";
  CHECK(error_of(flag).path() == "servers[0].routes[0].handle.pool.release_after_transaction");

  json negative = base_config();
  recipe0(negative)["max_connections"] = -1;
  CHECK_THAT(error_of(negative).problem(), Contains("between 0 and"));

  CHECK(error_of(json::array()).problem() == "expected an object, got an array");
}

TEST_CASE("load_config: negative and invalid durations", "[config][load]") {
  json neg = base_config();
  pool0(neg)["client_acquire_timeout"] = "-1s";
  const ConfigError e = error_of(neg);
  CHECK(e.path() == "servers[0].routes[0].handle.pool.client_acquire_timeout");
  CHECK(e.problem() == "duration must not be negative, got \"-1s\"");

  json neg_int = base_config();
  listener0(neg_int)["startup_timeout"] = -1;
  CHECK(error_of(neg_int).path() == "servers[0].listen[0].startup_timeout");

  json no_unit = base_config();
  recipe0(no_unit)["connect_timeout"] = "5";
  const ConfigError u = error_of(no_unit);
  CHECK(u.path() == "servers[0].routes[0].handle.recipe.connect_timeout");
  CHECK_THAT(u.problem(), Contains("invalid duration \"5\""));

  json top = base_config();
  top["shutdown_timeout"] = "-30s";
  CHECK(error_of(top).path() == "shutdown_timeout");
}

TEST_CASE("load_config: bad addresses", "[config][load]") {
  json v6 = base_config();
  recipe0(v6)["address"] = "::1:5432";
  const ConfigError e = error_of(v6);
  CHECK(e.path() == "servers[0].routes[0].handle.recipe.address");
  CHECK_THAT(e.problem(), Contains("brackets"));

  json port = base_config();
  listener0(port)["address"] = "host:99999";
  const ConfigError p = error_of(port);
  CHECK(p.path() == "servers[0].listen[0].address");
  CHECK(p.problem() == "invalid port in address \"host:99999\"");

  json unix_long = base_config();
  listener0(unix_long)["address"] = "/" + std::string(120, 'd');
  const ConfigError ul = error_of(unix_long);
  CHECK(ul.path() == "servers[0].listen[0].address");
  CHECK_THAT(ul.problem(), Contains("is longer than"));

  // A server must be dialled at some host; a listener may take all interfaces.
  json no_host = base_config();
  recipe0(no_host)["address"] = ":5432";
  CHECK(error_of(no_host).path() == "servers[0].routes[0].handle.recipe.address");
  json any = base_config();
  listener0(any)["address"] = ":6432";
  CHECK_NOTHROW(pggat::load_config(any, builtins()));
}

TEST_CASE("load_config: min_connections above max_connections", "[config][load]") {
  json j = base_config();
  recipe0(j)["min_connections"] = 5;
  recipe0(j)["max_connections"] = 2;
  const ConfigError e = error_of(j);
  CHECK(e.path() == "servers[0].routes[0].handle.recipe.min_connections");
  CHECK(e.problem() == "min_connections (5) is above max_connections (2)");

  // max 0 means no limit, so any min goes with it.
  recipe0(j)["max_connections"] = 0;
  CHECK_NOTHROW(pggat::load_config(j, builtins()));
  recipe0(j)["max_connections"] = 5;
  CHECK_NOTHROW(pggat::load_config(j, builtins()));
}

TEST_CASE("load_config: one address listened on twice", "[config][load]") {
  json across = base_config();
  across["servers"].push_back(across["servers"][0]);
  const ConfigError e = error_of(across);
  CHECK(e.path() == "servers[1].listen[0].address");
  CHECK(e.problem() == "\"127.0.0.1:6432\" is listened on twice");

  // Spelt differently, same socket.
  json within = base_config();
  within["servers"][0]["listen"] =
      json::parse(R"([{"address": "/tmp/dir"}, {"address": "/tmp/dir/.s.PGSQL.5432"}])");
  const ConfigError w = error_of(within);
  CHECK(w.path() == "servers[0].listen[1].address");
  CHECK(w.problem() == "\"/tmp/dir/.s.PGSQL.5432\" is listened on twice");

  json host = base_config();
  host["servers"][0]["listen"] =
      json::parse(R"([{"address": "localhost"}, {"address": "localhost:5432"}])");
  CHECK(error_of(host).path() == "servers[0].listen[1].address");

  json ok = base_config();
  ok["servers"].push_back(ok["servers"][0]);
  ok["servers"][1]["listen"][0]["address"] = "127.0.0.1:6433";
  CHECK(pggat::load_config(ok, builtins()).servers.size() == 2);
}

TEST_CASE("load_config: transaction mode and its fields", "[config][load]") {
  json mode = base_config();
  pool0(mode)["mode"] = "transaction";
  pool0(mode)["pooler"] = "lifo";
  pool0(mode)["max_prepared_statements"] = 50;
  CHECK(pggat::load_config(mode, builtins()).servers.size() == 1);

  json release = base_config();
  pool0(release).erase("mode");
  pool0(release)["release_after_transaction"] = true;
  pool0(release)["pooler"] = "lifo";
  CHECK(pggat::load_config(release, builtins()).servers.size() == 1);

  json negative = base_config();
  pool0(negative)["max_prepared_statements"] = -1;
  CHECK(error_of(negative).path() == "servers[0].routes[0].handle.pool.max_prepared_statements");

  json unknown = base_config();
  pool0(unknown)["mode"] = "statement";
  const ConfigError u = error_of(unknown);
  CHECK(u.path() == "servers[0].routes[0].handle.pool.mode");
  CHECK(u.problem() == "unknown mode \"statement\" (known: session, transaction)");
}

TEST_CASE("load_config: unsupported features are refused clearly", "[config][load]") {
  json bogus_mode = base_config();
  recipe0(bogus_mode)["ssl_mode"] = "sometimes";
  CHECK_THAT(error_of(bogus_mode).problem(), Contains("unknown ssl_mode"));

  json critics = base_config();
  pool0(critics)["critics"] = json::parse(R"([{"critic": "latency", "threshold": "500ms"}])");
  const ConfigError c = error_of(critics);
  CHECK(c.path() == "servers[0].routes[0].handle.pool.critics[0].threshold");
  CHECK_THAT(c.problem(), Contains("unknown field") && Contains("query_threshold"));

  json tracing = base_config();
  pool0(tracing)["packet_tracing_option"] = true;
  CHECK(error_of(tracing).path() == "servers[0].routes[0].handle.pool.packet_tracing_option");

  // Their "off" spellings are fine: Go configs carry them.
  json off = base_config();
  pool0(off)["critics"] = json::array();
  pool0(off)["packet_tracing_option"] = false;
  pool0(off)["otel_tracing_option"] = "";
  recipe0(off)["ssl_mode"] = "disable";
  pool0(off)["pooler"] = "lifo";
  CHECK_NOTHROW(pggat::load_config(off, builtins()));
}

TEST_CASE("load_config: the pool's scheduling fields", "[config][load]") {
  json rob = base_config();
  pool0(rob)["pooler"] = {{"pooler", "rob"}};
  CHECK_NOTHROW(pggat::load_config(rob, builtins()));
  pool0(rob)["pooler"] = "rob";
  CHECK_NOTHROW(pggat::load_config(rob, builtins()));

  json unknown = base_config();
  pool0(unknown)["pooler"] = {{"pooler", "fifo"}};
  const ConfigError u = error_of(unknown);
  CHECK(u.path() == "servers[0].routes[0].handle.pool.pooler");
  CHECK(u.problem() == "unknown pooler \"fifo\" (known: lifo, rob)");

  json timings = base_config();
  pool0(timings)["server_lifetime"] = "30m";
  pool0(timings)["server_check_delay"] = 0;
  CHECK_NOTHROW(pggat::load_config(timings, builtins()));

  for (const char* key : {"server_lifetime", "server_check_delay"}) {
    json bad = base_config();
    pool0(bad)[key] = "an hour";
    const ConfigError e = error_of(bad);
    CHECK(e.path() == std::string("servers[0].routes[0].handle.pool.") + key);
    CHECK_THAT(e.problem(), Contains("invalid duration \"an hour\""));
  }
}

TEST_CASE("load_config_file: unreadable files and JSON syntax errors name the file",
          "[config][load]") {
  const TempFile file("{\"servers\": [\n  {\"listen\": }\n]}");
  try {
    (void)pggat::load_config_file(file.path, builtins());
    FAIL("a syntax error was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.path().empty());
    CHECK_THAT(e.problem(),
               StartsWith(file.path.string() + ": invalid JSON") && Contains("line 2"));
  }

  const auto missing = file.dir / "missing.json";
  try {
    (void)pggat::load_config_file(missing, builtins());
    FAIL("a missing file was accepted");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.problem(), Contains("cannot open") && Contains(missing.string()));
  }

  const TempFile valid(base_config().dump());
  CHECK(pggat::load_config_file(valid.path, builtins()).servers.size() == 1);
}

TEST_CASE("load_config: listener TLS", "[config][load][tls]") {
  json self_signed = base_config();
  listener0(self_signed)["ssl"] = {{"provider", "self_signed"}, {"sans", {"db.example", "10.0.0.1"}}};
  const Config c = pggat::load_config(self_signed, builtins());
  const auto& tls = c.servers.at(0).listeners().at(0).ssl;
  REQUIRE(tls);
  CHECK(tls->provider == pggat::ListenerTls::Provider::self_signed);
  CHECK(tls->sans == std::vector<std::string>{"db.example", "10.0.0.1"});
  CHECK(tls->client_cert == pggat::ListenerTls::ClientCert::none);

  json defaults = base_config();
  listener0(defaults)["ssl"] = {{"provider", "self_signed"}};
  CHECK(pggat::load_config(defaults, builtins()).servers.at(0).listeners().at(0).ssl->sans ==
        std::vector<std::string>{"localhost", "127.0.0.1", "::1"});
}

TEST_CASE("load_config: listener TLS mistakes name their place", "[config][load][tls]") {
  json no_provider = base_config();
  listener0(no_provider)["ssl"] = json::object();
  CHECK(error_of(no_provider).path() == "servers[0].listen[0].ssl.provider");

  json bad_provider = base_config();
  listener0(bad_provider)["ssl"] = {{"provider", "lets_encrypt"}};
  const ConfigError p = error_of(bad_provider);
  CHECK(p.path() == "servers[0].listen[0].ssl.provider");
  CHECK(p.problem() == "unknown TLS provider \"lets_encrypt\" (known: self_signed, x509_key_pair)");

  json missing_cert = base_config();
  listener0(missing_cert)["ssl"] = {
      {"provider", "x509_key_pair"}, {"cert_file", "/nonexistent/server.crt"}, {"key_file", "/nonexistent/server.key"}};
  const ConfigError m = error_of(missing_cert);
  CHECK(m.path() == "servers[0].listen[0].ssl.cert_file");
  CHECK_THAT(m.problem(), Contains("cannot read \"/nonexistent/server.crt\"") && Contains("No such file"));

  json no_key = base_config();
  listener0(no_key)["ssl"] = {{"provider", "x509_key_pair"}, {"cert_file", "/etc/hostname"}};
  CHECK(error_of(no_key).path() == "servers[0].listen[0].ssl.key_file");

  json not_pem = base_config();
  listener0(not_pem)["ssl"] = {{"provider", "x509_key_pair"}, {"cert_file", "/etc/hostname"}, {"key_file", "/etc/hostname"}};
  const ConfigError n = error_of(not_pem);
  CHECK(n.path() == "servers[0].listen[0].ssl");
  CHECK_THAT(n.problem(), Contains("cannot load certificate \"/etc/hostname\""));

  json missing_ca = base_config();
  listener0(missing_ca)["ssl"] = {{"provider", "self_signed"}, {"client_ca_file", "/nonexistent/ca.crt"}};
  CHECK(error_of(missing_ca).path() == "servers[0].listen[0].ssl.client_ca_file");

  json mode_without_ca = base_config();
  listener0(mode_without_ca)["ssl"] = {{"provider", "self_signed"}, {"client_cert", "require"}};
  const ConfigError w = error_of(mode_without_ca);
  CHECK(w.path() == "servers[0].listen[0].ssl.client_cert");
  CHECK_THAT(w.problem(), Contains("needs client_ca_file"));

  json bad_mode = base_config();
  listener0(bad_mode)["ssl"] = {{"provider", "self_signed"}, {"client_cert", "sometimes"}};
  CHECK_THAT(error_of(bad_mode).problem(), Contains("known: none, optional, require"));

  json wrong_field = base_config();
  listener0(wrong_field)["ssl"] = {{"provider", "self_signed"}, {"cert_file", "/x"}};
  CHECK(error_of(wrong_field).path() == "servers[0].listen[0].ssl.cert_file");

  json empty_sans = base_config();
  listener0(empty_sans)["ssl"] = {{"provider", "self_signed"}, {"sans", json::array()}};
  CHECK(error_of(empty_sans).path() == "servers[0].listen[0].ssl.sans");

  json unix_tls = base_config();
  listener0(unix_tls)["address"] = "/tmp/pggat-sock";
  listener0(unix_tls)["ssl"] = {{"provider", "self_signed"}};
  CHECK(error_of(unix_tls).path() == "servers[0].listen[0].ssl");
}

TEST_CASE("load_config: critics, with pggat's names, and clear errors", "[config][load]") {
  json ok = base_config();
  pool0(ok)["critics"] = json::parse(R"([{"critic": "latency", "query_threshold": "300ms"},
      {"critic": "replication", "query_threshold": "0s", "replication_threshold": "2s"}])");
  pool0(ok)["check_period"] = "250ms";
  CHECK_NOTHROW(pggat::load_config(ok, builtins()));

  json unknown = base_config();
  pool0(unknown)["critics"] = json::parse(R"([{"critic": "cpu"}])");
  const ConfigError u = error_of(unknown);
  CHECK(u.path() == "servers[0].routes[0].handle.pool.critics[0].critic");
  CHECK(u.problem() == "unknown critic \"cpu\" (known: latency, replication)");

  json twice = base_config();
  pool0(twice)["critics"] = json::parse(R"([{"critic": "latency"}, {"critic": "latency"}])");
  CHECK(error_of(twice).path() == "servers[0].routes[0].handle.pool.critics[1]");

  json period = base_config();
  pool0(period)["check_period"] = "0s";
  CHECK(error_of(period).path() == "servers[0].routes[0].handle.pool.check_period");
}

TEST_CASE("load_config: the hybrid pool and its replicas", "[config][load]") {
  auto hybrid = [] {
    json j = base_config();
    pool0(j) = {{"pool", "hybrid"}};
    route0(j)["handle"]["replicas"] = json::array({recipe0(j)});
    return j;
  };
  CHECK_NOTHROW(pggat::load_config(hybrid(), builtins()));

  json with_fields = hybrid();
  pool0(with_fields).update({{"consistency", "read_your_writes"}, {"max_replay_buffer", 4096},
                             {"max_replication_lag", "5s"}, {"pooler", "lifo"}});
  CHECK_NOTHROW(pggat::load_config(with_fields, builtins()));

  json session = hybrid();
  pool0(session)["mode"] = "session";
  const ConfigError s = error_of(session);
  CHECK(s.path() == "servers[0].routes[0].handle.pool.mode");
  CHECK(s.problem() == "the hybrid pool pools transactions; session pooling is not supported");

  json consistency = hybrid();
  pool0(consistency)["consistency"] = "strong";
  const ConfigError c = error_of(consistency);
  CHECK(c.path() == "servers[0].routes[0].handle.pool.consistency");
  CHECK(c.problem() == "unknown consistency \"strong\" (known: eventual, read_your_writes)");

  json buffer = hybrid();
  pool0(buffer)["max_replay_buffer"] = 0;
  CHECK(error_of(buffer).path() == "servers[0].routes[0].handle.pool.max_replay_buffer");

  json bad_replica = hybrid();
  route0(bad_replica)["handle"]["replicas"][0].erase("address");
  CHECK(error_of(bad_replica).path() == "servers[0].routes[0].handle.replicas[0].address");

  // A basic pool has no replicas: the config says so rather than ignore them.
  json basic = base_config();
  route0(basic)["handle"]["replicas"] = json::array({recipe0(basic)});
  const ConfigError b = error_of(basic);
  CHECK(b.path() == "servers[0].routes[0].handle.replicas[0]");
  CHECK_THAT(b.problem(), Contains("replicas need the hybrid pool"));
}

TEST_CASE("load_config: log, metrics and admin", "[config][load]") {
  json config = base_config();
  config["log"] = {{"level", "debug"}, {"format", "json"}, {"connections", true}};
  config["metrics"] = {{"listen", "127.0.0.1:9930"}};
  config["admin"] = {{"admin_users", {"ops"}}, {"password", "secret"}};
  const Config loaded = pggat::load_config(config, builtins());
  CHECK(loaded.log.level == spdlog::level::debug);
  CHECK(loaded.log.format == pggat::LogOptions::Format::json);
  CHECK(loaded.log.connections);
  REQUIRE(loaded.metrics);
  CHECK(loaded.metrics->listen == "127.0.0.1:9930");
  CHECK(loaded.metrics->path == "/metrics");
  REQUIRE(loaded.admin);
  CHECK(loaded.admin->database == "pggat");
  CHECK(loaded.admin->admin_users == std::vector<std::string>{"ops"});
  REQUIRE(loaded.admin->credentials);
  CHECK(loaded.admin->credentials->secret("ops").has_value());

  json level = base_config();
  level["log"] = {{"level", "loud"}};
  CHECK(error_of(level).path() == "log.level");
  json format = base_config();
  format["log"] = {{"format", "xml"}};
  CHECK_THAT(error_of(format).problem(), Contains("known: text, json"));
  json same = base_config();
  same["metrics"] = {{"listen", "127.0.0.1:6432"}};
  const ConfigError clash = error_of(same);
  CHECK(clash.path() == "metrics.listen");
  CHECK_THAT(clash.problem(), Contains("also a listener's address"));
  json nobody = base_config();
  nobody["admin"] = {{"password", "secret"}};
  CHECK_THAT(error_of(nobody).problem(), Contains("admin_users"));
}
