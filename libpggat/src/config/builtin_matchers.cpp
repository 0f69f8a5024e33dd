// JSON factories of the built-in matchers.
#include "config/builtins.hpp"
#include "pggat/matchers.hpp"

namespace pggat::config {
namespace {

std::vector<std::shared_ptr<const Matcher>> make_list(const ConfigNode& list,
                                                      const Registry& registry) {
  std::vector<std::shared_ptr<const Matcher>> out;
  for (const ConfigNode& e : list.elements()) out.push_back(registry.make_matcher(e));
  if (out.empty()) list.fail("needs at least one matcher");
  return out;
}

}  // namespace

void register_builtin_matchers(Registry& registry) {
  registry.add_matcher("user", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"matcher", "user"});
    return match_user(node.at("user").as_string());
  });
  registry.add_matcher("database", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"matcher", "database"});
    return match_database(node.at("database").as_string());
  });
  registry.add_matcher("startup_parameter", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"matcher", "key", "value"});
    const std::string key = node.at("key").as_string();
    if (key.empty()) node.at("key").fail("must not be empty");
    return match_startup_parameter(key, node.at("value").as_string());
  });
  registry.add_matcher("ssl", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"matcher", "ssl"});
    return match_ssl(node.get_bool("ssl", true));
  });
  registry.add_matcher("local_address", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"matcher", "network", "address"});
    const std::string network = node.get_string("network");
    if (!network.empty() && network != "tcp" && network != "unix")
      node.at("network").fail("must be \"tcp\" or \"unix\"");
    return match_local_address(network, node.get_string("address"));
  });
  registry.add_matcher("and", [](const ConfigNode& node, const Registry& r) {
    node.check_keys({"matcher", "and"});
    return match_all_of(make_list(node.at("and"), r));
  });
  registry.add_matcher("or", [](const ConfigNode& node, const Registry& r) {
    node.check_keys({"matcher", "or"});
    return match_any_of(make_list(node.at("or"), r));
  });
  registry.add_matcher("not", [](const ConfigNode& node, const Registry& r) {
    node.check_keys({"matcher", "not"});
    return match_not(r.make_matcher(node.at("not")));
  });
}

}  // namespace pggat::config
