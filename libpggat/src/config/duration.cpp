// Go-style duration parsing and printing for config values.
#include "pggat/duration.hpp"

#include <cstdint>

namespace pggat {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t ns;
};
// Go's unitMap. A unit is everything up to the next digit or '.', matched whole.
constexpr Unit units[] = {
    {"ns", 1},           {"us", 1000},           {"\xc2\xb5s", 1000} /* µs */,
    {"\xce\xbcs", 1000} /* μs */, {"ms", 1000000},       {"s", 1000000000},
    {"m", 60000000000LL}, {"h", 3600000000000LL},
};

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s) {
  // Go's time.ParseDuration, step for step: integers in a uint64 that may reach
  // 2^63 (so the most negative duration parses), fractions through a double,
  // truncated to the nanosecond.
  constexpr std::uint64_t limit = std::uint64_t{1} << 63;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return std::nullopt;

  std::uint64_t total = 0;
  while (!s.empty()) {
    if (s.front() != '.' && !is_digit(s.front())) return std::nullopt;
    std::uint64_t whole = 0;
    bool pre = false;
    for (; !s.empty() && is_digit(s.front()); s.remove_prefix(1)) {
      if (whole > limit / 10) return std::nullopt;
      whole = whole * 10 + static_cast<std::uint64_t>(s.front() - '0');
      if (whole > limit) return std::nullopt;
      pre = true;
    }
    std::uint64_t fraction = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
      bool saturated = false;  // digits past uint64 precision are read and dropped
      for (; !s.empty() && is_digit(s.front()); s.remove_prefix(1)) {
        post = true;
        if (saturated) continue;
        const std::uint64_t next = fraction * 10 + static_cast<std::uint64_t>(s.front() - '0');
        if (fraction > (limit - 1) / 10 || next > limit) {
          saturated = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
    }
    if (!pre && !post) return std::nullopt;  // ".s"

    std::size_t unit_length = 0;
    while (unit_length < s.size() && s[unit_length] != '.' && !is_digit(s[unit_length]))
      ++unit_length;
    const std::string_view suffix = s.substr(0, unit_length);
    s.remove_prefix(unit_length);
    const Unit* unit = nullptr;
    for (const Unit& u : units)
      if (u.suffix == suffix) unit = &u;
    if (unit == nullptr) return std::nullopt;  // missing or unknown unit
    const auto per_unit = static_cast<std::uint64_t>(unit->ns);

    if (whole > limit / per_unit) return std::nullopt;
    whole *= per_unit;
    if (fraction > 0) {
      whole += static_cast<std::uint64_t>(static_cast<double>(fraction) *
                                          (static_cast<double>(per_unit) / scale));
      if (whole > limit) return std::nullopt;
    }
    total += whole;
    if (total > limit) return std::nullopt;
  }
  if (negative) return std::chrono::nanoseconds(static_cast<std::int64_t>(0 - total));
  if (total > limit - 1) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(std::chrono::nanoseconds d) {
  if (d.count() == 0) return "0s";
  // Unsigned, so that the most negative duration has a magnitude too.
  const std::string sign = d.count() < 0 ? "-" : "";
  std::uint64_t ns = static_cast<std::uint64_t>(d.count());
  if (d.count() < 0) ns = 0 - ns;
  auto with_fraction = [](std::uint64_t value, std::uint64_t unit, std::string_view suffix) {
    std::string out = std::to_string(value / unit);
    const std::uint64_t rest = value % unit;
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
  const std::uint64_t hours = ns / 3600000000000ULL;
  ns %= 3600000000000ULL;
  const std::uint64_t minutes = ns / 60000000000ULL;
  ns %= 60000000000ULL;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += with_fraction(ns, 1000000000, "s");
  return out;
}

}  // namespace pggat
