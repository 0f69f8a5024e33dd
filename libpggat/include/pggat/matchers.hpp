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
// A startup parameter (other than user and database) whose value matches the glob.
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_startup_parameter(std::string key,
                                                                              std::string glob);
// Clients on TLS (ssl = true) or not (ssl = false).
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_ssl(bool ssl);
// Clients that came in through a listener: `network` "tcp" or "unix" (empty:
// either), `address_glob` against the listener's bound address ("127.0.0.1:6432",
// "/run/pggat/.s.PGSQL.6432"; empty: any).
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_local_address(std::string network,
                                                                          std::string address_glob);
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_all_of(
    std::vector<std::shared_ptr<const Matcher>> matchers);
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_any_of(
    std::vector<std::shared_ptr<const Matcher>> matchers);
[[nodiscard]] PGGAT_API std::shared_ptr<const Matcher> match_not(std::shared_ptr<const Matcher> m);

}  // namespace pggat
