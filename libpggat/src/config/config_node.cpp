// ConfigNode: typed, path-aware access to config JSON; every error names where it is.
#include <algorithm>

#include "pggat/config.hpp"
#include "pggat/duration.hpp"

namespace pggat {
namespace {

std::string type_name(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

std::string join_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

}  // namespace

ConfigError::ConfigError(std::string path, std::string problem)
    : std::runtime_error(path.empty() ? problem : path + ": " + problem),
      path_(std::move(path)),
      problem_(std::move(problem)) {}

ConfigNode::ConfigNode(const nlohmann::json& value, std::string path)
    : value_(&value), path_(std::move(path)) {}

void ConfigNode::fail(std::string problem) const { throw ConfigError(path_, std::move(problem)); }

bool ConfigNode::has(std::string_view key) const {
  return value_->is_object() && value_->contains(key) && !(*value_)[std::string(key)].is_null();
}

std::optional<ConfigNode> ConfigNode::find(std::string_view key) const {
  if (!value_->is_object()) fail("expected an object, got " + type_name(*value_));
  auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) return std::nullopt;
  return ConfigNode(*it, join_path(path_, key));
}

ConfigNode ConfigNode::at(std::string_view key) const {
  auto node = find(key);
  if (!node) throw ConfigError(join_path(path_, key), "missing");
  return *node;
}

std::vector<ConfigNode> ConfigNode::elements() const {
  if (!value_->is_array()) fail("expected an array, got " + type_name(*value_));
  std::vector<ConfigNode> out;
  out.reserve(value_->size());
  for (std::size_t i = 0; i < value_->size(); ++i)
    out.emplace_back((*value_)[i], path_ + "[" + std::to_string(i) + "]");
  return out;
}

std::string ConfigNode::as_string() const {
  if (!value_->is_string()) fail("expected a string, got " + type_name(*value_));
  return value_->get<std::string>();
}

bool ConfigNode::as_bool() const {
  if (!value_->is_boolean()) fail("expected true or false, got " + type_name(*value_));
  return value_->get<bool>();
}

std::int64_t ConfigNode::as_int(std::int64_t min, std::int64_t max) const {
  std::int64_t v = 0;
  if (value_->is_number_unsigned()) {
    const auto u = value_->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(max))
      fail("must be at most " + std::to_string(max) + ", got " + std::to_string(u));
    v = static_cast<std::int64_t>(u);
  } else if (value_->is_number_integer()) {
    v = value_->get<std::int64_t>();
  } else {
    fail("expected an integer, got " + type_name(*value_));
  }
  if (v < min || v > max)
    fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
         std::to_string(v));
  return v;
}

std::chrono::nanoseconds ConfigNode::as_duration() const {
  if (value_->is_number_integer() || value_->is_number_unsigned())
    return std::chrono::nanoseconds(as_int(0, std::numeric_limits<std::int64_t>::max()));
  if (!value_->is_string())
    fail("expected a duration such as \"5s\" or integer nanoseconds, got " + type_name(*value_));
  const auto text = value_->get<std::string>();
  const auto d = parse_duration(text);
  if (!d) fail("invalid duration \"" + text + "\" (examples: \"300ms\", \"5s\", \"1h30m\")");
  if (d->count() < 0) fail("duration must not be negative, got \"" + text + "\"");
  return *d;
}

std::vector<std::string> ConfigNode::as_string_list() const {
  std::vector<std::string> out;
  for (const ConfigNode& e : elements()) out.push_back(e.as_string());
  return out;
}

std::string ConfigNode::get_string(std::string_view key, std::string fallback) const {
  auto node = find(key);
  return node ? node->as_string() : std::move(fallback);
}

bool ConfigNode::get_bool(std::string_view key, bool fallback) const {
  auto node = find(key);
  return node ? node->as_bool() : fallback;
}

std::chrono::nanoseconds ConfigNode::get_duration(std::string_view key,
                                                  std::chrono::nanoseconds fallback) const {
  auto node = find(key);
  return node ? node->as_duration() : fallback;
}

void ConfigNode::check_keys(std::initializer_list<std::string_view> known) const {
  check_keys(std::span<const std::string_view>(known.begin(), known.size()));
}

void ConfigNode::check_keys(std::span<const std::string_view> known) const {
  if (!value_->is_object()) fail("expected an object, got " + type_name(*value_));
  for (const auto& [key, value] : value_->items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    throw ConfigError(join_path(path_, key), "unknown field (known fields: " + list + ")");
  }
}

}  // namespace pggat
