// Startup and session parameters: name/value pairs with PostgreSQL's case-insensitive names.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pggat/export.hpp"

namespace pggat {

// ASCII case-insensitive equality, as PostgreSQL compares GUC names.
[[nodiscard]] PGGAT_API bool iequals(std::string_view a, std::string_view b) noexcept;

// A small ordered set of parameters. A handful of entries is the norm, so a
// vector with linear lookup beats a map.
class PGGAT_API Parameters {
 public:
  using Entry = std::pair<std::string, std::string>;

  Parameters() = default;
  Parameters(std::initializer_list<Entry> entries);

  // The value for a name, compared case-insensitively; nullptr when absent.
  [[nodiscard]] const std::string* find(std::string_view name) const;
  // Adds or replaces; a replaced entry keeps its position and takes the new spelling.
  void set(std::string_view name, std::string_view value);
  bool erase(std::string_view name);
  void clear() { entries_.clear(); }

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] auto begin() const { return entries_.begin(); }
  [[nodiscard]] auto end() const { return entries_.end(); }

  friend bool operator==(const Parameters&, const Parameters&) = default;

 private:
  std::vector<Entry> entries_;
};

}  // namespace pggat
