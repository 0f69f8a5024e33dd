// JSON factories of the built-in handlers.
#include "config/builtins.hpp"
#include "config/credentials_config.hpp"
#include "config/recipe_config.hpp"
#include "pggat/handlers.hpp"
#include "router/pool_handler.hpp"

namespace pggat::config {
namespace {

class PassHandler final : public Handler {
 public:
  asio::awaitable<Verdict> handle(Client&) override { co_return Verdict::next(); }
};

RewriteMode rewrite_mode(const ConfigNode& node) {
  const auto mode_node = node.find("mode");
  if (!mode_node) return RewriteMode::set;
  const std::string mode = mode_node->as_string();
  if (mode.empty() || mode == "set") return RewriteMode::set;
  if (mode == "strip_prefix") return RewriteMode::strip_prefix;
  if (mode == "strip_suffix") return RewriteMode::strip_suffix;
  mode_node->fail("unknown mode \"" + mode + "\" (known: set, strip_prefix, strip_suffix)");
}

}  // namespace

void register_builtin_handlers(Registry& registry) {
  registry.add_handler("pool", [](const ConfigNode& node, const Registry& r) {
    node.check_keys({"handler", "pool", "recipe", "replicas"});
    router::PoolHandlerSource source{.pool = node.at("pool").json().dump(), .recipes = {}};
    std::shared_ptr<Pool> pool = r.make_pool(node.at("pool"));
    const auto add = [&](std::string name, const ConfigNode& recipe_node, bool replica) {
      Recipe recipe = parse_recipe(recipe_node);
      try {
        replica ? pool->add_replica_recipe(name, recipe) : pool->add_recipe(name, recipe);
      } catch (const std::invalid_argument& e) {
        recipe_node.fail(e.what());
      }
      source.recipes.push_back({std::move(name), std::move(recipe), replica, recipe_node.json().dump()});
    };
    add("recipe", node.at("recipe"), false);
    if (auto replicas = node.find("replicas")) {
      std::size_t i = 0;
      for (const ConfigNode& element : replicas->elements()) add("replica" + std::to_string(i++), element, true);
    }
    return router::make_pool_handler(std::move(pool), std::move(source));
  });
  registry.add_handler("rewrite_password", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"handler", "password", "auth_file", "failure_delay"});
    return make_rewrite_password_handler(parse_credentials(node));
  });
  registry.add_handler("rewrite_user", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"handler", "mode", "user"});
    return make_rewrite_user_handler(rewrite_mode(node), node.at("user").as_string());
  });
  registry.add_handler("rewrite_database", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"handler", "mode", "database"});
    return make_rewrite_database_handler(rewrite_mode(node), node.at("database").as_string());
  });
  registry.add_handler("rewrite_parameter", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"handler", "key", "value"});
    const std::string key = node.at("key").as_string();
    if (key.empty()) node.at("key").fail("must not be empty");
    return make_rewrite_parameter_handler(key, node.at("value").as_string());
  });
  registry.add_handler("require_ssl", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"handler", "ssl"});
    // {"ssl": false} requires nothing, as in pggat.
    if (!node.get_bool("ssl", true)) return std::shared_ptr<Handler>(std::make_shared<PassHandler>());
    return make_require_ssl_handler();
  });
  registry.add_handler("allowed_startup_parameters", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"handler", "parameters"});
    return make_allowed_startup_parameters_handler(node.at("parameters").as_string_list());
  });
  registry.add_handler("error", [](const ConfigNode& node, const Registry&) {
    node.check_keys({"handler", "message", "code"});
    const std::string code = node.get_string("code", "08004");
    if (code.size() != 5) node.at("code").fail("a SQLSTATE has 5 characters");
    return make_error_handler(node.at("message").as_string(), code);
  });
}

}  // namespace pggat::config
