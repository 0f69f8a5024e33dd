// Registry: named factories for matchers, handlers and pools.
#include "pggat/registry.hpp"

#include <stdexcept>

namespace pggat {
namespace {

template <class Map, class F>
void add_unique(Map& map, std::string name, F factory, std::string_view kind) {
  if (name.empty()) throw std::invalid_argument(std::string(kind) + " name must not be empty");
  if (!factory) throw std::invalid_argument(std::string(kind) + " \"" + name + "\" has no factory");
  auto [it, inserted] = map.emplace(std::move(name), std::move(factory));
  if (!inserted)
    throw std::invalid_argument(std::string(kind) + " \"" + it->first + "\" is already registered");
}

template <class Map>
std::vector<std::string> names_of(const Map& map) {
  std::vector<std::string> out;
  for (const auto& [name, factory] : map) out.push_back(name);
  return out;
}

// Looks up node[key] in map and runs the factory; errors name node's path.
template <class Map>
auto make_from(const Map& map, const ConfigNode& node, std::string_view key,
               const Registry& registry) {
  const ConfigNode name_node = node.at(key);
  const std::string name = name_node.as_string();
  auto it = map.find(name);
  if (it == map.end()) {
    std::string known;
    for (const auto& [n, f] : map) known += (known.empty() ? "" : ", ") + n;
    name_node.fail("unknown " + std::string(key) + " \"" + name + "\" (known: " +
                   (known.empty() ? "none registered" : known) + ")");
  }
  auto made = it->second(node, registry);
  if (!made) node.fail(std::string(key) + " \"" + name + "\" factory returned nothing");
  return made;
}

}  // namespace

void Registry::add_matcher(std::string name, Factory<const Matcher> factory) {
  add_unique(matchers_, std::move(name), std::move(factory), "matcher");
}
void Registry::add_handler(std::string name, Factory<Handler> factory) {
  add_unique(handlers_, std::move(name), std::move(factory), "handler");
}
void Registry::add_pool(std::string name, Factory<Pool> factory) {
  add_unique(pools_, std::move(name), std::move(factory), "pool");
}

std::shared_ptr<const Matcher> Registry::make_matcher(const ConfigNode& node) const {
  return make_from(matchers_, node, "matcher", *this);
}
std::shared_ptr<Handler> Registry::make_handler(const ConfigNode& node) const {
  return make_from(handlers_, node, "handler", *this);
}
std::shared_ptr<Pool> Registry::make_pool(const ConfigNode& node) const {
  return make_from(pools_, node, "pool", *this);
}

std::vector<std::string> Registry::matcher_names() const { return names_of(matchers_); }
std::vector<std::string> Registry::handler_names() const { return names_of(handlers_); }
std::vector<std::string> Registry::pool_names() const { return names_of(pools_); }

}  // namespace pggat
