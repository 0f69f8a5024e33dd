// Registry: named factories, duplicates refused, hosts' own matchers used from JSON.
#include "pggat/registry.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>

#include "../frontend/test_client.hpp"
#include "pggat/matchers.hpp"

using Catch::Matchers::Contains;
using nlohmann::json;
using pggat::ConfigError;
using pggat::ConfigNode;
using pggat::Registry;
using pggat::test::TestClient;

namespace {

// Matches clients whose application_name fits a glob (the README's custom matcher).
class ApplicationNameMatcher final : public pggat::Matcher {
 public:
  explicit ApplicationNameMatcher(std::string glob) : glob_(std::move(glob)) {}
  bool matches(const pggat::Client& client) const override {
    const std::string* name = client.parameters.find("application_name");
    return pggat::glob_match(glob_, name != nullptr ? *name : "");
  }

 private:
  std::string glob_;
};

void add_application_name(Registry& registry) {
  registry.add_matcher("application_name", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"matcher", "application_name"});
    return std::make_shared<ApplicationNameMatcher>(node.at("application_name").as_string());
  });
}

template <class F>
ConfigError error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError was thrown");
  throw std::logic_error("unreachable");
}

std::shared_ptr<const pggat::Matcher> matcher_from(const Registry& r, const char* text) {
  const json j = json::parse(text);
  return r.make_matcher(ConfigNode(j, "match"));
}

}  // namespace

TEST_CASE("register_builtins adds pggat's names and nothing else", "[config][registry]") {
  Registry r;
  CHECK(r.matcher_names().empty());
  CHECK(r.handler_names().empty());
  CHECK(r.pool_names().empty());
  pggat::register_builtins(r);
  CHECK(r.matcher_names() == std::vector<std::string>{"and", "database", "local_address", "not", "or",
                                                      "ssl", "startup_parameter", "user"});
  CHECK(r.handler_names() ==
        std::vector<std::string>{"allowed_startup_parameters", "error", "pool", "require_ssl",
                                 "rewrite_database", "rewrite_parameter", "rewrite_password",
                                 "rewrite_user"});
  CHECK(r.pool_names() == std::vector<std::string>{"basic", "hybrid"});
}

TEST_CASE("Registry refuses duplicates, empty names and empty factories", "[config][registry]") {
  Registry r;
  pggat::register_builtins(r);
  CHECK_THROWS_AS(pggat::register_builtins(r), std::invalid_argument);
  CHECK_THROWS_WITH(r.add_matcher("user", [](const ConfigNode&,
                                             const Registry&) { return pggat::match_user("*"); }),
                    Contains("matcher \"user\" is already registered"));
  CHECK_THROWS_WITH(
      r.add_handler("pool", [](const ConfigNode&, const Registry&) { return nullptr; }),
      Contains("handler \"pool\" is already registered"));
  CHECK_THROWS_WITH(r.add_pool("basic", [](const ConfigNode&, const Registry&) { return nullptr; }),
                    Contains("pool \"basic\" is already registered"));
  CHECK_THROWS_AS(r.add_matcher("", [](const ConfigNode&, const Registry&) { return nullptr; }),
                  std::invalid_argument);
  CHECK_THROWS_AS(r.add_matcher("empty", nullptr), std::invalid_argument);
  CHECK(r.matcher_names().size() == 8);  // nothing half-added

  // The same name may be a matcher and a handler: they are separate namespaces.
  CHECK_NOTHROW(r.add_handler("user", [](const ConfigNode&, const Registry&) { return nullptr; }));
}

TEST_CASE("Registry builds the built-in matchers from JSON", "[config][registry]") {
  Registry r;
  pggat::register_builtins(r);
  TestClient alice("alice", "sales");
  CHECK(matcher_from(r, R"({"matcher": "user", "user": "a*"})")->matches(alice.client()));
  CHECK_FALSE(
      matcher_from(r, R"({"matcher": "database", "database": "hr"})")->matches(alice.client()));
  const auto nested = matcher_from(r, R"({"matcher": "and", "and": [
      {"matcher": "user", "user": "alice"},
      {"matcher": "not", "not": {"matcher": "or", "or": [
          {"matcher": "database", "database": "hr"},
          {"matcher": "database", "database": "payroll"}]}}]})");
  CHECK(nested->matches(alice.client()));
  alice.client().database = "payroll";
  CHECK_FALSE(nested->matches(alice.client()));

  const ConfigError empty =
      error_of([&] { (void)matcher_from(r, R"({"matcher": "and", "and": []})"); });
  CHECK(empty.path() == "match.and");
  CHECK(empty.problem() == "needs at least one matcher");

  const ConfigError inner = error_of([&] {
    (void)matcher_from(r, R"({"matcher": "or", "or": [{"matcher": "user", "usr": "x"}]})");
  });
  CHECK(inner.path() == "match.or[0].usr");
  CHECK(inner.problem() == "unknown field (known fields: matcher, user)");
}

TEST_CASE("Registry: an unknown name lists the registered ones", "[config][registry]") {
  Registry r;
  pggat::register_builtins(r);
  const json j = json::parse(R"({"matcher": "application_name", "handler": "rewrite_usr",
                                 "pool": "hybird"})");
  const ConfigNode node(j, "x");
  const ConfigError m = error_of([&] { (void)r.make_matcher(node); });
  CHECK(m.path() == "x.matcher");
  CHECK(m.problem() ==
        "unknown matcher \"application_name\" (known: and, database, local_address, not, or, ssl, startup_parameter, user)");
  const ConfigError h = error_of([&] { (void)r.make_handler(node); });
  CHECK(h.path() == "x.handler");
  CHECK(h.problem() == "unknown handler \"rewrite_usr\" (known: allowed_startup_parameters, error, pool, require_ssl, rewrite_database, rewrite_parameter, rewrite_password, rewrite_user)");
  const ConfigError p = error_of([&] { (void)r.make_pool(node); });
  CHECK(p.path() == "x.pool");
  CHECK(p.problem() == "unknown pool \"hybird\" (known: basic, hybrid)");

  const ConfigError none = error_of([&] { (void)Registry{}.make_matcher(node); });
  CHECK_THAT(none.problem(), Contains("none registered"));

  const json no_name = json::object();
  CHECK(error_of([&] { (void)r.make_matcher(ConfigNode(no_name, "m")); }).path() == "m.matcher");
}

TEST_CASE("Registry: a factory that returns nothing is a config error", "[config][registry]") {
  Registry r;
  r.add_matcher("null", [](const ConfigNode&, const Registry&) { return nullptr; });
  const json j = json::parse(R"({"matcher": "null"})");
  const ConfigError e = error_of([&] { (void)r.make_matcher(ConfigNode(j, "m")); });
  CHECK(e.path() == "m");
  CHECK_THAT(e.problem(), Contains("returned nothing"));
}

TEST_CASE("Registry: a host's matcher is used from JSON, alone and nested", "[config][registry]") {
  Registry r;
  pggat::register_builtins(r);
  add_application_name(r);
  TestClient reports("app", "app", {{"application_name", "reports-daily"}});
  TestClient psql("app", "app", {{"application_name", "psql"}});

  const auto m =
      matcher_from(r, R"({"matcher": "application_name", "application_name": "report*"})");
  CHECK(m->matches(reports.client()));
  CHECK_FALSE(m->matches(psql.client()));

  // Built-ins combine with it through the registry they were given.
  const auto n = matcher_from(r, R"({"matcher": "not", "not":
      {"matcher": "application_name", "application_name": "report*"}})");
  CHECK_FALSE(n->matches(reports.client()));
  CHECK(n->matches(psql.client()));

  // Its own errors carry paths through the ConfigNode helpers.
  const ConfigError missing =
      error_of([&] { (void)matcher_from(r, R"({"matcher": "application_name"})"); });
  CHECK(missing.path() == "match.application_name");
  CHECK(missing.problem() == "missing");
  const ConfigError typo = error_of(
      [&] { (void)matcher_from(r, R"({"matcher": "application_name", "application_nme": "x"})"); });
  CHECK(typo.path() == "match.application_nme");
  CHECK(typo.problem() == "unknown field (known fields: matcher, application_name)");
  const ConfigError type = error_of(
      [&] { (void)matcher_from(r, R"({"matcher": "application_name", "application_name": 7})"); });
  CHECK(type.path() == "match.application_name");
  CHECK(type.problem() == "expected a string, got an integer");
}

TEST_CASE("Two registries are independent", "[config][registry]") {
  Registry a;
  Registry b;
  pggat::register_builtins(a);
  pggat::register_builtins(b);  // no "already registered": nothing is global
  add_application_name(a);
  CHECK(a.matcher_names().size() == 9);
  CHECK(b.matcher_names().size() == 8);
  const json j = json::parse(R"({"matcher": "application_name", "application_name": "x"})");
  CHECK(a.make_matcher(ConfigNode(j, "m")) != nullptr);
  CHECK_THROWS_AS(b.make_matcher(ConfigNode(j, "m")), ConfigError);
  // And b can take the same name with its own meaning.
  CHECK_NOTHROW(b.add_matcher("application_name", [](const ConfigNode&, const Registry&) {
    return pggat::match_user("*");
  }));
}
