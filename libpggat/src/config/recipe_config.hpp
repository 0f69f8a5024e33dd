// JSON to Recipe (pool handler `recipe`, and later hybrid replicas and discovery).
#pragma once

#include "pggat/config.hpp"
#include "pggat/recipe.hpp"

namespace pggat::config {

[[nodiscard]] Recipe parse_recipe(const ConfigNode& node);

}  // namespace pggat::config
