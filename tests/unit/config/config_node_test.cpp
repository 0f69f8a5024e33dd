// ConfigNode: typed access to config JSON, every error naming its path.
#include <catch2/catch.hpp>
#include <limits>
#include <optional>

#include "pggat/config.hpp"

using Catch::Matchers::Contains;
using nlohmann::json;
using pggat::ConfigError;
using pggat::ConfigNode;
using namespace std::chrono_literals;

namespace {

// Runs f, which must throw a ConfigError, and returns it.
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

}  // namespace

TEST_CASE("ConfigError joins path and problem", "[config][node]") {
  const ConfigError e("servers[0].listen", "missing");
  CHECK(e.path() == "servers[0].listen");
  CHECK(e.problem() == "missing");
  CHECK(std::string(e.what()) == "servers[0].listen: missing");
  CHECK(std::string(ConfigError("", "bad file").what()) == "bad file");
}

TEST_CASE("ConfigNode navigates members and elements with paths", "[config][node]") {
  const json j = json::parse(R"({"a": {"b": [10, {"c": "x"}]}, "n": null})");
  const ConfigNode root(j, "");
  CHECK(root.has("a"));
  CHECK_FALSE(root.has("z"));
  CHECK_FALSE(root.has("n"));  // null counts as absent
  CHECK_FALSE(root.find("n").has_value());

  const ConfigNode a = root.at("a");
  CHECK(a.path() == "a");
  const auto b = a.at("b").elements();
  REQUIRE(b.size() == 2);
  CHECK(b[0].path() == "a.b[0]");
  CHECK(b[1].at("c").path() == "a.b[1].c");
  CHECK(b[1].at("c").as_string() == "x");

  const ConfigError missing = error_of([&] { (void)b[1].at("d"); });
  CHECK(missing.path() == "a.b[1].d");
  CHECK(missing.problem() == "missing");
  CHECK(error_of([&] { (void)root.at("n"); }).path() == "n");

  // has() on a non-object is false; find() and elements() on the wrong kind fail.
  CHECK_FALSE(b[0].has("x"));
  const ConfigError not_object = error_of([&] { (void)b[0].find("x"); });
  CHECK(not_object.path() == "a.b[0]");
  CHECK(not_object.problem() == "expected an object, got an integer");
  const ConfigError not_array = error_of([&] { (void)a.elements(); });
  CHECK(not_array.path() == "a");
  CHECK(not_array.problem() == "expected an array, got an object");
}

TEST_CASE("ConfigNode as_string and as_bool check types", "[config][node]") {
  const json j = json::parse(R"({"s": "text", "t": true, "f": false, "i": 1, "x": 1.5})");
  const ConfigNode root(j, "p");
  CHECK(root.at("s").as_string() == "text");
  CHECK(root.at("t").as_bool());
  CHECK_FALSE(root.at("f").as_bool());

  const ConfigError s = error_of([&] { (void)root.at("i").as_string(); });
  CHECK(s.path() == "p.i");
  CHECK(s.problem() == "expected a string, got an integer");
  CHECK(error_of([&] { (void)root.at("s").as_bool(); }).problem() ==
        "expected true or false, got a string");
  CHECK(error_of([&] { (void)root.at("i").as_bool(); }).problem() ==
        "expected true or false, got an integer");
  CHECK(error_of([&] { (void)root.at("x").as_string(); }).problem() ==
        "expected a string, got a number");
}

TEST_CASE("ConfigNode as_int checks type and range", "[config][node]") {
  const json j = json::parse(
      R"({"ten": 10, "neg": -3, "big": 18446744073709551615, "f": 2.5, "s": "ten", "b": true,
          "min": -9223372036854775808})");
  const ConfigNode root(j, "");
  CHECK(root.at("ten").as_int(0, 10) == 10);
  CHECK(root.at("ten").as_int(10, 10) == 10);
  CHECK(root.at("neg").as_int(-3, 0) == -3);
  constexpr auto lo = std::numeric_limits<std::int64_t>::min();
  constexpr auto hi = std::numeric_limits<std::int64_t>::max();
  CHECK(root.at("min").as_int(lo, hi) == lo);

  const ConfigError above = error_of([&] { (void)root.at("ten").as_int(0, 9); });
  CHECK(above.path() == "ten");
  CHECK(above.problem() == "must be at most 9, got 10");
  CHECK(error_of([&] { (void)root.at("neg").as_int(0, 9); }).problem() ==
        "must be between 0 and 9, got -3");
  CHECK(error_of([&] { (void)root.at("ten").as_int(11, 20); }).problem() ==
        "must be between 11 and 20, got 10");
  CHECK_THAT(error_of([&] { (void)root.at("big").as_int(0, hi); }).problem(),
             Contains("18446744073709551615"));
  CHECK(error_of([&] { (void)root.at("f").as_int(0, 9); }).problem() ==
        "expected an integer, got a number");
  CHECK(error_of([&] { (void)root.at("s").as_int(0, 9); }).problem() ==
        "expected an integer, got a string");
  CHECK(error_of([&] { (void)root.at("b").as_int(0, 9); }).problem() ==
        "expected an integer, got a boolean");
}

TEST_CASE("ConfigNode as_duration takes strings and integer nanoseconds", "[config][node]") {
  const json j = json::parse(
      R"({"s": "1h30m", "ns": 5000000000, "zero": 0, "neg": "-1s", "negi": -5, "bad": "5",
          "f": 1.5, "ov": "9999999999h"})");
  const ConfigNode root(j, "t");
  CHECK(root.at("s").as_duration() == 90min);
  CHECK(root.at("ns").as_duration() == 5s);
  CHECK(root.at("zero").as_duration() == 0s);

  const ConfigError neg = error_of([&] { (void)root.at("neg").as_duration(); });
  CHECK(neg.path() == "t.neg");
  CHECK(neg.problem() == "duration must not be negative, got \"-1s\"");
  CHECK_THAT(error_of([&] { (void)root.at("negi").as_duration(); }).problem(), Contains("got -5"));
  CHECK_THAT(error_of([&] { (void)root.at("bad").as_duration(); }).problem(),
             Contains("invalid duration \"5\""));
  CHECK_THAT(error_of([&] { (void)root.at("ov").as_duration(); }).problem(),
             Contains("invalid duration \"9999999999h\""));
  CHECK_THAT(error_of([&] { (void)root.at("f").as_duration(); }).problem(),
             Contains("got a number"));
}

TEST_CASE("ConfigNode as_string_list", "[config][node]") {
  const json j = json::parse(R"({"l": ["a", "b"], "e": [], "mixed": ["a", 1], "s": "a"})");
  const ConfigNode root(j, "");
  CHECK(root.at("l").as_string_list() == std::vector<std::string>{"a", "b"});
  CHECK(root.at("e").as_string_list().empty());
  const ConfigError mixed = error_of([&] { (void)root.at("mixed").as_string_list(); });
  CHECK(mixed.path() == "mixed[1]");
  CHECK(mixed.problem() == "expected a string, got an integer");
  CHECK(error_of([&] { (void)root.at("s").as_string_list(); }).problem() ==
        "expected an array, got a string");
}

TEST_CASE("ConfigNode get_* use the fallback only when absent", "[config][node]") {
  const json j = json::parse(R"({"s": "x", "b": false, "d": "2s", "n": null, "wrong": 1})");
  const ConfigNode root(j, "");
  CHECK(root.get_string("s", "fb") == "x");
  CHECK(root.get_string("nope", "fb") == "fb");
  CHECK(root.get_string("nope").empty());
  CHECK(root.get_string("n", "fb") == "fb");
  CHECK_FALSE(root.get_bool("b", true));
  CHECK(root.get_bool("nope", true));
  CHECK(root.get_duration("d", 7s) == 2s);
  CHECK(root.get_duration("nope", 7s) == 7s);
  // Present with the wrong type is an error, not the fallback.
  CHECK(error_of([&] { (void)root.get_string("wrong", "fb"); }).path() == "wrong");
  CHECK(error_of([&] { (void)root.get_bool("wrong", true); }).path() == "wrong");
  CHECK(error_of([&] { (void)root.get_duration("s", 1s); }).path() == "s");
}

TEST_CASE("ConfigNode check_keys names the unknown field and lists the known ones",
          "[config][node]") {
  const json j = json::parse(R"({"recipe": {"address": "h", "adress": "h"}})");
  const ConfigNode recipe = ConfigNode(j, "").at("recipe");
  recipe.check_keys({"address", "adress"});
  const ConfigError e = error_of([&] { recipe.check_keys({"address", "username"}); });
  CHECK(e.path() == "recipe.adress");
  CHECK(e.problem() == "unknown field (known fields: address, username)");
  CHECK(error_of([&] { ConfigNode(j["recipe"]["address"], "x").check_keys({}); }).problem() ==
        "expected an object, got a string");
}

TEST_CASE("ConfigNode fail throws at the node's path", "[config][node]") {
  const json j = 1;
  const ConfigError e = error_of([&] { ConfigNode(j, "a.b").fail("no good"); });
  CHECK(e.path() == "a.b");
  CHECK(std::string(e.what()) == "a.b: no good");
}
