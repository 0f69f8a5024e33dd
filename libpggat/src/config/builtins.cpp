// register_builtins: everything pggat itself provides, added explicitly.
#include "config/builtins.hpp"

namespace pggat {

void register_builtins(Registry& registry) {
  config::register_builtin_matchers(registry);
  config::register_builtin_handlers(registry);
  config::register_builtin_pools(registry);
}

}  // namespace pggat
