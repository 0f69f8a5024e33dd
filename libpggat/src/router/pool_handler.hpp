// The config's pool handler: one that knows what it was made from, so a
// reloaded config can change its recipes in place (Handler::adopt).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pggat/handler.hpp"
#include "pggat/pool.hpp"
#include "pggat/recipe.hpp"

namespace pggat::router {

struct NamedRecipe {
  std::string name;
  Recipe recipe;
  bool replica = false;
  std::string source;  // its JSON, to tell a changed recipe from an unchanged one
};

// What a "pool" handler was made from. A newer handler from the same `pool`
// JSON is adopted: recipes that changed or are new are added, gone ones
// removed, and the pool with its other servers stays.
struct PoolHandlerSource {
  std::string pool;  // the pool's JSON
  std::vector<NamedRecipe> recipes;
};

// The pool handler's way to let its pool park a client (see
// pool::ParkingPool); route_client calls it for a pool handler it runs itself.
class ParkingHandler {
 public:
  virtual asio::awaitable<Verdict> handle_parkable(Client& client) = 0;

 protected:
  ~ParkingHandler() = default;
};

// The pool has the source's recipes added already.
[[nodiscard]] std::shared_ptr<Handler> make_pool_handler(std::shared_ptr<Pool> pool, PoolHandlerSource source);

}  // namespace pggat::router
