// Registry: JSON names ("handler": "pool", "matcher": "user") to factories, one per library instance.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pggat/config.hpp"
#include "pggat/export.hpp"
#include "pggat/handler.hpp"
#include "pggat/matcher.hpp"
#include "pggat/pool.hpp"

namespace pggat {

class Registry;

template <class T>
using Factory = std::function<std::shared_ptr<T>(const ConfigNode& node, const Registry& registry)>;

// Nothing is registered behind your back: call register_builtins() for pggat's
// own matchers, handlers and pools, then add yours. Two registries (two pggat
// instances) in one process do not share anything.
class PGGAT_API Registry {
 public:
  // Throws std::invalid_argument when the name is taken.
  void add_matcher(std::string name, Factory<const Matcher> factory);
  void add_handler(std::string name, Factory<Handler> factory);
  void add_pool(std::string name, Factory<Pool> factory);

  // Build from a JSON object whose "matcher" / "handler" / "pool" member names
  // the factory. An unknown name is a ConfigError listing the known ones.
  [[nodiscard]] std::shared_ptr<const Matcher> make_matcher(const ConfigNode& node) const;
  [[nodiscard]] std::shared_ptr<Handler> make_handler(const ConfigNode& node) const;
  [[nodiscard]] std::shared_ptr<Pool> make_pool(const ConfigNode& node) const;

  [[nodiscard]] std::vector<std::string> matcher_names() const;
  [[nodiscard]] std::vector<std::string> handler_names() const;
  [[nodiscard]] std::vector<std::string> pool_names() const;

 private:
  std::map<std::string, Factory<const Matcher>, std::less<>> matchers_;
  std::map<std::string, Factory<Handler>, std::less<>> handlers_;
  std::map<std::string, Factory<Pool>, std::less<>> pools_;
};

// Adds pggat's matchers (user, database, and, or, not), handlers (pool) and pools (basic).
PGGAT_API void register_builtins(Registry& registry);

}  // namespace pggat
