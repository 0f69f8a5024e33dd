// The pool handler: authenticate the client, then let the pool serve it.
#include "frontend/authenticate.hpp"
#include "pggat/handlers.hpp"

namespace pggat {
namespace {

class PoolHandler final : public Handler {
 public:
  explicit PoolHandler(std::shared_ptr<Pool> pool) : pool_(std::move(pool)) {}

  asio::awaitable<Verdict> handle(Client& client) override {
    detail::ClientSession& session = client.session();
    std::optional<PgError> error = co_await frontend::authenticate(session);
    if (error) co_return Verdict::fail(std::move(*error));
    co_return co_await pool_->serve(client);
  }
  void start(const Context& context) override { pool_->start(context); }
  void stop() override { pool_->stop(); }
  std::vector<std::shared_ptr<Pool>> pools() const override { return {pool_}; }

 private:
  std::shared_ptr<Pool> pool_;
};

}  // namespace

std::shared_ptr<Handler> make_pool_handler(std::shared_ptr<Pool> pool) {
  if (!pool) throw std::invalid_argument("make_pool_handler: pool is null");
  return std::make_shared<PoolHandler>(std::move(pool));
}

}  // namespace pggat
