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

TEST_CASE("parse_recipe refuses TLS modes it cannot honour", "[config][recipe]") {
  for (const char* mode : {"prefer", "require", "verify-ca", "verify-full"}) {
    const std::string text =
        std::string(R"({"address": "h", "username": "u", "ssl_mode": ")") + mode + "\"}";
    const ConfigError e = error_of(text.c_str());
    INFO(mode);
    CHECK(e.path() == "recipe.ssl_mode");
    CHECK_THAT(e.problem(), Contains("needs TLS to servers"));
  }
}
