// Unit tests of pool/query_scan: finding parameter names in query texts.
#include "pool/query_scan.hpp"

#include <catch2/catch.hpp>

#include <string>

using pggat::pool::contains_ignoring_case;

TEST_CASE("contains_ignoring_case finds a name with a caseless byte in any case, anywhere", "[pool][query_scan]") {
  CHECK(contains_ignoring_case("SET search_path TO app", "search_path"));
  CHECK(contains_ignoring_case("set SEARCH_PATH = x", "search_path"));
  CHECK(contains_ignoring_case("search_path", "search_path"));           // the whole text
  CHECK(contains_ignoring_case("x;Search_Path", "search_path"));         // at the very end
  CHECK(contains_ignoring_case("Search_Path=1", "SEARCH_PATH"));         // at the very start
  CHECK(contains_ignoring_case("a_b_c search_path", "search_path"));     // other '_' first
}

TEST_CASE("contains_ignoring_case does not find what is not there", "[pool][query_scan]") {
  CHECK_FALSE(contains_ignoring_case("SELECT abalance FROM pgbench_accounts WHERE aid = 1", "search_path"));
  CHECK_FALSE(contains_ignoring_case("search_pat", "search_path"));      // shorter than the needle
  CHECK_FALSE(contains_ignoring_case("earch_path", "search_path"));      // the pivot too close to the start
  CHECK_FALSE(contains_ignoring_case("search-path", "search_path"));     // '-' is not '_'
  CHECK_FALSE(contains_ignoring_case("searchXpath", "search_path"));
  CHECK_FALSE(contains_ignoring_case("anything", ""));
  CHECK_FALSE(contains_ignoring_case("", "timezone"));
}

TEST_CASE("contains_ignoring_case finds names made of letters only", "[pool][query_scan]") {
  CHECK(contains_ignoring_case("SET TimeZone = 'UTC'", "timezone"));
  CHECK(contains_ignoring_case("set datestyle to iso", "DateStyle"));
  CHECK(contains_ignoring_case("DateStyle", "datestyle"));
  CHECK_FALSE(contains_ignoring_case("SET TimeZon", "timezone"));
  CHECK_FALSE(contains_ignoring_case("time zone", "timezone"));
}

TEST_CASE("contains_ignoring_case folds ASCII letters only", "[pool][query_scan]") {
  // '@' + 0x20 is '`': a byte that is not a letter never matches another byte.
  CHECK_FALSE(contains_ignoring_case("`x_y", "@x_y"));
  CHECK(contains_ignoring_case("@X_Y", "@x_y"));
  const std::string text = std::string(1000, 'a') + "search_path";  // long text, match at the end
  CHECK(contains_ignoring_case(text, "search_path"));
}
