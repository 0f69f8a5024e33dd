// Go-style duration parsing and printing for config values.
#include "pggat/duration.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

namespace pggat {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t ns;
};
// Longer suffixes first so "ms" is not read as "m" followed by "s".
constexpr Unit units[] = {
    {"ns", 1},           {"us", 1000},           {"\xc2\xb5s", 1000} /* µs */,
    {"\xce\xbcs", 1000} /* μs */, {"ms", 1000000},       {"s", 1000000000},
    {"m", 60000000000LL}, {"h", 3600000000000LL},
};

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return std::nullopt;

  // Accumulate in long double, then check the range once per term; Go's own
  // parser is exact to the nanosecond for every value we could meet in a config.
  long double total = 0;
  while (!s.empty()) {
    std::uint64_t whole = 0;
    std::size_t digits = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      if (whole > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) return std::nullopt;
      whole = whole * 10 + static_cast<std::uint64_t>(s.front() - '0');
      s.remove_prefix(1);
      ++digits;
    }
    long double fraction = 0;
    std::size_t fraction_digits = 0;
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
      long double scale = 0.1L;
      while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
        fraction += scale * (s.front() - '0');
        scale /= 10;
        s.remove_prefix(1);
        ++fraction_digits;
      }
    }
    if (digits == 0 && fraction_digits == 0) return std::nullopt;
    const Unit* unit = nullptr;
    for (const Unit& u : units) {
      if (s.substr(0, u.suffix.size()) == u.suffix) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;  // Go requires a unit on every term
    s.remove_prefix(unit->suffix.size());
    total += (static_cast<long double>(whole) + fraction) * static_cast<long double>(unit->ns);
    if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
  }
  const auto ns = static_cast<std::int64_t>(std::llround(total));
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

std::string format_duration(std::chrono::nanoseconds d) {
  std::int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign;
  if (ns < 0) {
    sign = "-";
    ns = -ns;
  }
  auto with_fraction = [](std::int64_t value, std::int64_t unit, std::string_view suffix) {
    std::string out = std::to_string(value / unit);
    std::int64_t rest = value % unit;
    if (rest != 0) {
      std::string frac = std::to_string(rest + unit).substr(1);  // zero-padded
      while (!frac.empty() && frac.back() == '0') frac.pop_back();
      out += "." + frac;
    }
    return out + std::string(suffix);
  };
  if (ns < 1000) return sign + std::to_string(ns) + "ns";
  if (ns < 1000000) return sign + with_fraction(ns, 1000, "us");
  if (ns < 1000000000) return sign + with_fraction(ns, 1000000, "ms");
  std::string out = sign;
  const std::int64_t hours = ns / 3600000000000LL;
  ns %= 3600000000000LL;
  const std::int64_t minutes = ns / 60000000000LL;
  ns %= 60000000000LL;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += with_fraction(ns, 1000000000, "s");
  return out;
}

}  // namespace pggat
