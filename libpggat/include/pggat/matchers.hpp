// The built-in matchers, for building routes in code.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pggat/export.hpp"
#include "pggat/matcher.hpp"

namespace pggat {

// Glob matching with `*` (any run of characters) as the only special character.
[[nodiscard]] PGGAT_API bool glob_match(std::string_view pattern, std::string_view text) noexcept;

[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_user(std::string glob);
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_database(std::string glob);
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_all_of(
    std::vector<std::shared_ptr<const Matcher>> matchers);
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_any_of(
    std::vector<std::shared_ptr<const Matcher>> matchers);
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_not(std::shared_ptr<const Matcher> m);

}  // namespace pggat
