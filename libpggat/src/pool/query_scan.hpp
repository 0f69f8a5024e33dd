// Query scan: whether a query text names a parameter, case-insensitively.
#pragma once

#include <string_view>

namespace pggat::pool {

// Whether `needle` occurs in `text`, ASCII letters compared without case (as
// PostgreSQL folds unquoted names). An empty needle is never found.
[[nodiscard]] bool contains_ignoring_case(std::string_view text, std::string_view needle);

}  // namespace pggat::pool
