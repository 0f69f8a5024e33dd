// Go-style durations: the syntax of Go's time.ParseDuration and the spelling of Duration.String.
#include "pggat/duration.hpp"

#include <catch2/catch.hpp>
#include <limits>

using pggat::format_duration;
using pggat::parse_duration;
using namespace std::chrono_literals;

namespace {

// The parsed value in nanoseconds, or -1 for "rejected" (no accepted test value is -1ns).
std::int64_t ns_of(std::string_view text) {
  const auto d = parse_duration(text);
  return d ? d->count() : -1;
}

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();

}  // namespace

TEST_CASE("parse_duration reads every unit", "[config][duration]") {
  CHECK(ns_of("7ns") == 7);
  CHECK(ns_of("7us") == 7'000);
  CHECK(ns_of("7\xc2\xb5s") == 7'000);  // U+00B5 MICRO SIGN
  CHECK(ns_of("7\xce\xbcs") == 7'000);  // U+03BC GREEK SMALL LETTER MU
  CHECK(ns_of("300ms") == 300'000'000);
  CHECK(ns_of("5s") == 5'000'000'000);
  CHECK(ns_of("2m") == 120'000'000'000);
  CHECK(ns_of("1h") == 3'600'000'000'000);
}

TEST_CASE("parse_duration reads sequences, fractions and signs", "[config][duration]") {
  CHECK(parse_duration("1h30m") == 90min);
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration("2h45m30.5s") == 2h + 45min + 30s + 500ms);
  CHECK(parse_duration("1m1ms1us1ns") == 1min + 1ms + 1us + 1ns);
  CHECK(parse_duration("0.3s") == 300ms);
  CHECK(parse_duration("1.000000001s") == 1s + 1ns);
  CHECK(parse_duration("0.000000001s") == 1ns);
  CHECK(parse_duration("1.5h") == 90min);
  CHECK(parse_duration("-1s") == -1s);
  CHECK(parse_duration("+1s") == 1s);
  CHECK(parse_duration("-1m30s") == -90s);
  // Units may repeat and come in any order, as in Go.
  CHECK(parse_duration("1s1s") == 2s);
  CHECK(parse_duration("1s1h") == 1h + 1s);
  // Leading zeros are just digits.
  CHECK(parse_duration("010s") == 10s);
}

TEST_CASE("parse_duration takes Go's zero and fraction edge cases", "[config][duration]") {
  CHECK(parse_duration("0") == 0ns);
  CHECK(parse_duration("-0") == 0ns);
  CHECK(parse_duration("+0") == 0ns);
  CHECK(parse_duration("0s") == 0ns);
  CHECK(parse_duration("0h0m0s") == 0ns);
  // Go: digits on either side of the point are enough.
  CHECK(parse_duration("1.s") == 1s);
  CHECK(parse_duration(".5s") == 500ms);
  // Go truncates what is finer than a nanosecond.
  CHECK(parse_duration("1.9ns") == 1ns);
  CHECK(parse_duration("0.0000000019s") == 1ns);
}

TEST_CASE("parse_duration rejects what Go rejects", "[config][duration]") {
  for (const char* bad :
       {"",      "5",    "-5",   "1x",    "s",     "ms",        ".s",    ".",   "-",
        "+",     "1.5",  "1s5",  "1 s",   " 1s",   "1s ",       "1S",    "1Ms", "1sec",
        "1..5s", "1e3s", "--1s", "1h-1m", "0x10s", "\xc2\xb5s", "1\xc2s"}) {
    INFO("\"" << bad << "\"");
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("parse_duration covers the int64 range and rejects overflow", "[config][duration]") {
  CHECK(ns_of("9223372036854775807ns") == int64_max);
  CHECK(ns_of("2562047h47m16.854775807s") == int64_max);
  CHECK(parse_duration("-9223372036854775807ns") == std::chrono::nanoseconds(-int64_max));
  // Go accepts the most negative duration too.
  CHECK(parse_duration("-9223372036854775808ns") == std::chrono::nanoseconds(int64_min));

  for (const char* big : {"9999999999h", "9223372036854775808ns", "2562048h",
                          "2562047h47m16.854775808s", "-9223372036854775809ns",
                          "18446744073709551616ns", "99999999999999999999999ns", "106751d"}) {
    INFO(big);
    CHECK_FALSE(parse_duration(big).has_value());
  }
}

TEST_CASE("format_duration spells durations as Go does, with us for micro", "[config][duration]") {
  CHECK(format_duration(0ns) == "0s");
  CHECK(format_duration(1ns) == "1ns");
  CHECK(format_duration(999ns) == "999ns");
  CHECK(format_duration(1500ns) == "1.5us");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(1001us) == "1.001ms");
  CHECK(format_duration(1s) == "1s");
  CHECK(format_duration(1500ms) == "1.5s");
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(1h) == "1h0m0s");
  CHECK(format_duration(2h + 45min + 30s + 500ms) == "2h45m30.5s");
  CHECK(format_duration(1s + 1ns) == "1.000000001s");
  CHECK(format_duration(-90s) == "-1m30s");
  CHECK(format_duration(-1ns) == "-1ns");
  CHECK(format_duration(std::chrono::nanoseconds(int64_max)) == "2562047h47m16.854775807s");
  CHECK(format_duration(std::chrono::nanoseconds(int64_min)) == "-2562047h47m16.854775808s");
}

TEST_CASE("format_duration and parse_duration round trip", "[config][duration]") {
  using std::chrono::nanoseconds;
  for (const nanoseconds d :
       {nanoseconds(0), nanoseconds(1), nanoseconds(999), nanoseconds(1000), nanoseconds(1001),
        nanoseconds(123456789), nanoseconds(1'000'000'000), nanoseconds(59'999'999'999),
        nanoseconds(3'600'000'000'001), nanoseconds(-5'400'000'000'000), nanoseconds(int64_max),
        nanoseconds(-int64_max), nanoseconds(int64_min)}) {
    INFO(d.count() << "ns is spelled " << format_duration(d));
    CHECK(parse_duration(format_duration(d)) == d);
  }
  for (const char* text : {"300ms", "1h30m0s", "1.5s", "2h45m30.5s", "-1s", "7us", "7ns"}) {
    const auto d = parse_duration(text);
    REQUIRE(d);
    CHECK(parse_duration(format_duration(*d)) == d);
  }
}
