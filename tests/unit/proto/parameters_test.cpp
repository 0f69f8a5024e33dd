// Parameters: a small ordered list with PostgreSQL's case-insensitive names.
#include "pggat/parameters.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using pggat::iequals;
using pggat::Parameters;

namespace {

std::vector<std::string> names(const Parameters& p) {
  std::vector<std::string> out;
  for (const auto& [name, value] : p) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("iequals compares ASCII case-insensitively", "[proto][parameters]") {
  CHECK(iequals("TimeZone", "timezone"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("TimeZone", "TimeZones"));
  CHECK_FALSE(iequals("a_b", "a-b"));
  CHECK_FALSE(iequals("[", "{"));                // 0x5B vs 0x7B: only letters fold
  CHECK_FALSE(iequals("\xc3\x89", "\xc3\xa9"));  // É vs é: ASCII only
}

TEST_CASE("Parameters find is case-insensitive", "[proto][parameters]") {
  const Parameters p{{"TimeZone", "UTC"}, {"application_name", "psql"}};
  REQUIRE(p.find("timezone") != nullptr);
  CHECK(*p.find("timezone") == "UTC");
  CHECK(*p.find("TIMEZONE") == "UTC");
  CHECK(*p.find("Application_Name") == "psql");
  CHECK(p.find("time_zone") == nullptr);
  CHECK(p.find("") == nullptr);
  CHECK(p.size() == 2);
  CHECK_FALSE(p.empty());
  CHECK(Parameters{}.empty());
}

TEST_CASE("Parameters keep insertion order; set replaces in place", "[proto][parameters]") {
  Parameters p;
  p.set("a", "1");
  p.set("B", "2");
  p.set("c", "3");
  CHECK(names(p) == std::vector<std::string>{"a", "B", "c"});

  p.set("b", "two");  // replaces, keeps position, takes the new spelling
  CHECK(names(p) == std::vector<std::string>{"a", "b", "c"});
  CHECK(*p.find("B") == "two");
  CHECK(p.size() == 3);

  p.set("d", "");
  CHECK(names(p) == std::vector<std::string>{"a", "b", "c", "d"});
  REQUIRE(p.find("d") != nullptr);
  CHECK(p.find("d")->empty());
}

TEST_CASE("Parameters from an initializer list merge duplicate names", "[proto][parameters]") {
  const Parameters p{{"a", "1"}, {"b", "2"}, {"A", "3"}};
  CHECK(p.size() == 2);
  CHECK(names(p) == std::vector<std::string>{"A", "b"});
  CHECK(*p.find("a") == "3");
}

TEST_CASE("Parameters erase is case-insensitive and keeps the rest in order",
          "[proto][parameters]") {
  Parameters p{{"a", "1"}, {"B", "2"}, {"c", "3"}};
  CHECK(p.erase("b"));
  CHECK(names(p) == std::vector<std::string>{"a", "c"});
  CHECK_FALSE(p.erase("b"));
  CHECK_FALSE(p.erase("zz"));
  CHECK(p.size() == 2);
  CHECK(p.erase("A"));
  CHECK(p.erase("C"));
  CHECK(p.empty());
  p.set("x", "1");
  p.clear();
  CHECK(p.empty());
}

TEST_CASE("Parameters version: changes with content, kept by copies, unique to a content",
          "[proto][parameters]") {
  Parameters a;
  CHECK(a.version() == 0);
  a.set("DateStyle", "ISO");
  const auto v1 = a.version();
  CHECK(v1 != 0);
  a.set("datestyle", "ISO");  // same content, still a change: versions never lie about equality
  CHECK(a.version() != v1);

  const Parameters copy = a;
  CHECK(copy.version() == a.version());
  CHECK(copy == a);

  Parameters b;
  b.set("datestyle", "ISO");  // the spelling a was last given
  CHECK(b == a);                        // equal content compares equal...
  CHECK(b.version() != a.version());    // ...but another object's history is its own

  Parameters moved = std::move(b);
  CHECK(moved == a);
  CHECK(b.empty());       // NOLINT(bugprone-use-after-move): the moved-from state is specified
  CHECK(b.version() == 0);  // NOLINT(bugprone-use-after-move)

  const auto before_erase = moved.version();
  CHECK_FALSE(moved.erase("nothing"));
  CHECK(moved.version() == before_erase);
  CHECK(moved.erase("DATESTYLE"));
  CHECK(moved.version() != before_erase);
  const auto before_clear = moved.version();
  moved.clear();
  CHECK(moved.version() != before_clear);
}
