// The pool handler: authenticate the client, then let the pool serve it.
#include "router/pool_handler.hpp"

#include <algorithm>
#include <optional>

#include "frontend/authenticate.hpp"
#include "frontend/client_session.hpp"
#include "pool/parking_pool.hpp"
#include "pggat/handlers.hpp"

namespace pggat {
namespace {

class PoolHandler final : public Handler, public router::ParkingHandler {
 public:
  PoolHandler(std::shared_ptr<Pool> pool, std::optional<router::PoolHandlerSource> source)
      : pool_(std::move(pool)), parking_(dynamic_cast<pool::ParkingPool*>(pool_.get())), source_(std::move(source)) {}

  asio::awaitable<Verdict> handle(Client& client) override { return serve(client, false); }
  asio::awaitable<Verdict> handle_parkable(Client& client) override { return serve(client, parking_ != nullptr); }

  // Its frame lives as long as the client unless the pool parks it: the
  // authentication's state is in authenticate's.
  asio::awaitable<Verdict> serve(Client& client, bool may_park) {
    detail::ClientSession& session = client.session();
    if (auto failed = co_await authenticate(session)) co_return std::move(*failed);
    struct Serving {
      detail::ClientSession& session;
      // A parked client is still the pool's: App clears it when the pool is done.
      ~Serving() {
        if (!session.parked()) session.pool = nullptr;
      }
    } serving{session};
    session.pool = pool_.get();
    if (may_park) co_return co_await parking_->serve_parkable(client);
    co_return co_await pool_->serve(client);
  }

  static asio::awaitable<std::optional<Verdict>> authenticate(detail::ClientSession& session) {
    std::optional<PgError> error = co_await frontend::authenticate(session);
    if (error) co_return Verdict::fail(std::move(*error));
    co_return std::nullopt;
  }

  void start(const Context& context) override { pool_->start(context); }
  void stop() override { pool_->stop(); }
  std::vector<std::shared_ptr<Pool>> pools() const override { return {pool_}; }

  bool adopt(Handler& newer) override {
    auto* other = dynamic_cast<PoolHandler*>(&newer);
    if (!other || !source_ || !other->source_ || source_->pool != other->source_->pool) return false;
    const auto find = [](const std::vector<router::NamedRecipe>& list, const router::NamedRecipe& r) {
      return std::find_if(list.begin(), list.end(), [&](const router::NamedRecipe& x) {
        return x.name == r.name && x.replica == r.replica;
      });
    };
    auto& now = source_->recipes;
    for (const router::NamedRecipe& r : now)
      if (find(other->source_->recipes, r) == other->source_->recipes.end()) pool_->remove_recipe(r.name);
    for (const router::NamedRecipe& r : other->source_->recipes) {
      const auto it = find(now, r);
      if (it != now.end() && it->source == r.source) continue;
      // The same name replaces the recipe: its servers close as they come back.
      r.replica ? pool_->add_replica_recipe(r.name, r.recipe) : pool_->add_recipe(r.name, r.recipe);
    }
    source_ = std::move(other->source_);
    return true;
  }

 private:
  std::shared_ptr<Pool> pool_;
  pool::ParkingPool* parking_;  // pool_, when it can park clients
  std::optional<router::PoolHandlerSource> source_;
};

}  // namespace

std::shared_ptr<Handler> make_pool_handler(std::shared_ptr<Pool> pool) {
  if (!pool) throw std::invalid_argument("make_pool_handler: pool is null");
  return std::make_shared<PoolHandler>(std::move(pool), std::nullopt);
}

namespace router {

std::shared_ptr<Handler> make_pool_handler(std::shared_ptr<Pool> pool, PoolHandlerSource source) {
  if (!pool) throw std::invalid_argument("make_pool_handler: pool is null");
  return std::make_shared<PoolHandler>(std::move(pool), std::move(source));
}

}  // namespace router
}  // namespace pggat
