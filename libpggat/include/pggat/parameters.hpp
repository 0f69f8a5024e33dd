// Startup and session parameters: name/value pairs with PostgreSQL's case-insensitive names.
#pragma once

#include <cstdint>
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
  Parameters(const Parameters&) = default;
  Parameters& operator=(const Parameters&) = default;
  // The moved-from object is empty, with the version of an empty one.
  Parameters(Parameters&& other) noexcept
      : entries_(std::move(other.entries_)), version_(std::exchange(other.version_, 0)) {
    other.entries_.clear();
  }
  Parameters& operator=(Parameters&& other) noexcept {
    if (this == &other) return *this;
    entries_ = std::move(other.entries_);
    version_ = std::exchange(other.version_, 0);
    other.entries_.clear();
    return *this;
  }

  // The value for a name, compared case-insensitively; nullptr when absent.
  [[nodiscard]] const std::string* find(std::string_view name) const;
  // Adds or replaces; a replaced entry keeps its position and takes the new spelling.
  void set(std::string_view name, std::string_view value);
  bool erase(std::string_view name);
  void clear();

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] auto begin() const { return entries_.begin(); }
  [[nodiscard]] auto end() const { return entries_.end(); }

  // Changes with every set, erase and clear, and is never the same for two
  // different contents in one process (a copy keeps it): equal versions mean
  // nothing changed, which is cheaper to tell than comparing.
  [[nodiscard]] std::uint64_t version() const { return version_; }

  friend bool operator==(const Parameters& a, const Parameters& b) { return a.entries_ == b.entries_; }

 private:
  void changed();

  std::vector<Entry> entries_;
  std::uint64_t version_ = 0;  // 0: empty since construction
};

}  // namespace pggat
