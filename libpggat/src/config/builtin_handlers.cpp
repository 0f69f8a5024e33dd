// JSON factories of the built-in handlers.
#include "config/builtins.hpp"
#include "config/recipe_config.hpp"
#include "pggat/handlers.hpp"

namespace pggat::config {

void register_builtin_handlers(Registry& registry) {
  registry.add_handler("pool", [](const ConfigNode& node, const Registry& r) {
    node.check_keys({"handler", "pool", "recipe"});
    Recipe recipe = parse_recipe(node.at("recipe"));
    std::shared_ptr<Pool> pool = r.make_pool(node.at("pool"));
    pool->add_recipe("recipe", std::move(recipe));
    return make_pool_handler(std::move(pool));
  });
}

}  // namespace pggat::config
