// Query scan: looking for parameter names in query texts, which every query of a client goes through.
#include "pool/query_scan.hpp"

#include <cstring>

namespace pggat::pool {

bool contains_ignoring_case(std::string_view text, std::string_view needle) {
  if (needle.empty() || needle.size() > text.size()) return false;
  // ASCII only, as PostgreSQL folds GUC names; std::tolower is a call per byte.
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  auto matches_at = [&](std::size_t i) {
    for (std::size_t k = 0; k < needle.size(); ++k)
      if (lower(text[i + k]) != lower(needle[k])) return false;
    return true;
  };
  // Every query is scanned. A byte of the needle that has no case (the '_'
  // of search_path) is looked for with memchr, which is fast, and the needle
  // compared around each one found.
  // (find_first_not_of with the alphabet costs a memchr over it per byte of
  // the needle: more than the scan itself for a short query.)
  auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  std::size_t pivot = 0;
  while (pivot < needle.size() && is_letter(needle[pivot])) ++pivot;
  if (pivot < needle.size()) {
    const char* const begin = text.data();
    const char* const stop = begin + (text.size() - needle.size()) + pivot + 1;  // past the last place
    for (const char* p = begin + pivot; p < stop; ++p) {
      p = static_cast<const char*>(std::memchr(p, needle[pivot], static_cast<std::size_t>(stop - p)));
      if (p == nullptr) return false;
      if (matches_at(static_cast<std::size_t>(p - begin) - pivot)) return true;
    }
    return false;
  }
  const char first = lower(needle.front());
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i)
    if (lower(text[i]) == first && matches_at(i)) return true;
  return false;
}

}  // namespace pggat::pool
