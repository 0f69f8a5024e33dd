// Parameters: a small case-insensitive name/value list.
#include "pggat/parameters.hpp"

#include <algorithm>
#include <atomic>

namespace pggat {
namespace {
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  // Names mostly come spelt alike: equal bytes skip the case folding.
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && lower(a[i]) != lower(b[i])) return false;
  return true;
}

Parameters::Parameters(std::initializer_list<Entry> entries) {
  for (const auto& [name, value] : entries) set(name, value);
}

const std::string* Parameters::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (iequals(e.first, name)) return &e.second;
  return nullptr;
}

void Parameters::changed() {
  static std::atomic<std::uint64_t> last{0};
  version_ = last.fetch_add(1, std::memory_order_relaxed) + 1;
}

void Parameters::set(std::string_view name, std::string_view value) {
  changed();
  for (auto& e : entries_) {
    if (iequals(e.first, name)) {
      e.first.assign(name);
      e.second.assign(value);
      return;
    }
  }
  entries_.emplace_back(std::string(name), std::string(value));
}

bool Parameters::erase(std::string_view name) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return iequals(e.first, name); });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  changed();
  return true;
}

void Parameters::clear() {
  entries_.clear();
  changed();
}

}  // namespace pggat
