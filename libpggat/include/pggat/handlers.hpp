// The built-in handlers, for building routes in code.
#pragma once

#include <memory>

#include "pggat/export.hpp"
#include "pggat/handler.hpp"
#include "pggat/pool.hpp"

namespace pggat {

// Authenticates the client (trust for now) and hands it to the pool.
[[nodiscard]] PGGAT_API std::shared_ptr<Handler> make_pool_handler(std::shared_ptr<Pool> pool);

}  // namespace pggat
