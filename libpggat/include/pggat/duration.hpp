// Go-style durations ("300ms", "1h30m") as config values.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "pggat/export.hpp"

namespace pggat {

// Parses Go's time.ParseDuration syntax: an optional sign, then one or more
// decimal numbers (fractions allowed) each with a unit ns, us, µs, ms, s, m, h;
// "0" alone is zero. nullopt on bad syntax or overflow.
[[nodiscard]] PGGAT_API std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

// The shortest Go-style spelling, e.g. "1m30s", "250ms".
[[nodiscard]] PGGAT_API std::string format_duration(std::chrono::nanoseconds d);

}  // namespace pggat
