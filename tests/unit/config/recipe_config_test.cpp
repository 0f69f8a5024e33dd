// parse_recipe: the recipe object of the pool handler, its defaults and its checks.
#include "config/recipe_config.hpp"

#include <catch2/catch.hpp>

using Catch::Matchers::Contains;
using nlohmann::json;
using pggat::ConfigError;
using pggat::ConfigNode;
using pggat::Recipe;
using pggat::config::parse_recipe;
using namespace std::chrono_literals;

namespace {

Recipe recipe_of(const char* text) {
  const json j = json::parse(text);
  return parse_recipe(ConfigNode(j, "recipe"));
}

ConfigError error_of(const char* text) {
  try {
    (void)recipe_of(text);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("recipe was accepted: " << text);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("parse_recipe fills defaults", "[config][recipe]") {
  const Recipe r = recipe_of(R"({"address": "db:5433", "username": "app"})");
  CHECK(r.address == "db:5433");
  CHECK(r.username == "app");
  CHECK(r.database == "app");  // PostgreSQL's default: the user name
  CHECK(r.password.empty());
  CHECK(r.ssl_mode == pggat::SslMode::disable);
  CHECK(r.parameters.empty());
  CHECK(r.priority == 0);
  CHECK(r.min_connections == 0);
  CHECK(r.max_connections == 0);
  CHECK(r.connect_timeout == 15s);
}

TEST_CASE("parse_recipe reads every field", "[config][recipe]") {
  const Recipe r = recipe_of(R"({
      "address": "/run/postgresql:5433", "ssl_mode": "allow", "username": "app",
      "password": "secret", "database": "sales", "priority": -2,
      "parameters": {"search_path": "s", "TimeZone": "UTC"},
      "min_connections": 1, "max_connections": 4, "connect_timeout": "3s"})");
  CHECK(r.address == "/run/postgresql:5433");
  CHECK(r.ssl_mode == pggat::SslMode::allow);
  CHECK(r.password == "secret");
  CHECK(r.database == "sales");
  CHECK(r.priority == -2);
  CHECK(r.parameters.size() == 2);
  REQUIRE(r.parameters.find("search_path") != nullptr);
  REQUIRE(r.parameters.find("TimeZone") != nullptr);
  CHECK(*r.parameters.find("search_path") == "s");
  CHECK(*r.parameters.find("TimeZone") == "UTC");
  CHECK(r.min_connections == 1);
  CHECK(r.max_connections == 4);
  CHECK(r.connect_timeout == 3s);
  CHECK(recipe_of(R"({"address": "h", "username": "u", "ssl_mode": ""})").ssl_mode ==
        pggat::SslMode::disable);
}

TEST_CASE("parse_recipe refuses user and database as parameters", "[config][recipe]") {
  const ConfigError e =
      error_of(R"({"address": "h", "username": "u", "parameters": {"user": "x"}})");
  CHECK(e.path() == "recipe.parameters.user");
  CHECK_THAT(e.problem(), Contains("\"username\""));
  CHECK(error_of(R"({"address": "h", "username": "u", "parameters": {"database": "x"}})").path() ==
        "recipe.parameters.database");
  CHECK(error_of(R"({"address": "h", "username": "u", "parameters": ["a"]})").path() ==
        "recipe.parameters");
}

TEST_CASE("parse_recipe: ssl_mode and the ssl object", "[config][recipe]") {
  using pggat::SslMode;
  const std::pair<const char*, SslMode> modes[] = {{"disable", SslMode::disable},
                                                   {"allow", SslMode::allow},
                                                   {"prefer", SslMode::prefer},
                                                   {"require", SslMode::require},
                                                   {"verify-ca", SslMode::verify_ca},
                                                   {"verify-full", SslMode::verify_full}};
  for (const auto& [text, mode] : modes) {
    const std::string j = std::string(R"({"address": "h", "username": "u", "ssl_mode": ")") + text + "\"}";
    INFO(text);
    CHECK(recipe_of(j.c_str()).ssl_mode == mode);
  }
  // pggat's form: an ssl object without ssl_mode means TLS when offered.
  const Recipe skip = recipe_of(R"({"address": "h", "username": "u", "ssl": {"provider": "insecure_skip_verify"}})");
  CHECK(skip.ssl_mode == SslMode::prefer);
  CHECK(skip.ssl.insecure_skip_verify);
  CHECK(recipe_of(R"({"address": "h", "username": "u", "ssl": {"insecure_skip_verify": true}, "ssl_mode": "require"})")
            .ssl.insecure_skip_verify);
  CHECK_FALSE(recipe_of(R"({"address": "h", "username": "u", "ssl_mode": "require"})").ssl.insecure_skip_verify);
}

TEST_CASE("parse_recipe: TLS mistakes name their place", "[config][recipe]") {
  const ConfigError provider =
      error_of(R"({"address": "h", "username": "u", "ssl": {"provider": "trust_me"}})");
  CHECK(provider.path() == "recipe.ssl.provider");
  CHECK_THAT(provider.problem(), Contains("unknown TLS provider \"trust_me\""));

  const ConfigError missing = error_of(
      R"({"address": "h", "username": "u", "ssl_mode": "verify-full", "ssl": {"root_cert_file": "/nonexistent/ca.pem"}})");
  CHECK(missing.path() == "recipe.ssl.root_cert_file");
  CHECK_THAT(missing.problem(), Contains("cannot read \"/nonexistent/ca.pem\"") && Contains("No such file"));

  const ConfigError key = error_of(
      R"({"address": "h", "username": "u", "ssl": {"cert_file": "/nonexistent/c.pem", "key_file": "/nonexistent/k.pem"}})");
  CHECK(key.path() == "recipe.ssl.cert_file");

  const ConfigError half = error_of(R"({"address": "h", "username": "u", "ssl": {"cert_file": "/etc/hostname"}})");
  CHECK(half.path() == "recipe.ssl");
  CHECK_THAT(half.problem(), Contains("both cert_file and key_file"));

  const ConfigError contradiction = error_of(
      R"({"address": "h", "username": "u", "ssl_mode": "verify-full", "ssl": {"provider": "insecure_skip_verify"}})");
  CHECK(contradiction.path() == "recipe.ssl");
  CHECK_THAT(contradiction.problem(), Contains("insecure_skip_verify contradicts"));

  // A file that is not PEM: OpenSSL's reason, at the ssl object.
  const ConfigError not_pem = error_of(
      R"({"address": "h", "username": "u", "ssl_mode": "verify-ca", "ssl": {"root_cert_file": "/etc/hostname"}})");
  CHECK(not_pem.path() == "recipe.ssl");
  CHECK_THAT(not_pem.problem(), Contains("cannot load root certificates \"/etc/hostname\""));

  CHECK(error_of(R"({"address": "h", "username": "u", "ssl": {"verify": true}})").path() == "recipe.ssl.verify");
  CHECK(error_of(R"({"address": "h", "username": "u", "ssl": "yes"})").path() == "recipe.ssl");
}
