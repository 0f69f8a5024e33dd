// Registration of pggat's own factories, one function per kind.
#pragma once

#include "pggat/registry.hpp"

namespace pggat::config {

void register_builtin_matchers(Registry& registry);
void register_builtin_handlers(Registry& registry);
void register_builtin_pools(Registry& registry);

}  // namespace pggat::config
