// Running a client through the ordered routes of its server.
#include "router/route_client.hpp"

namespace pggat::router {

asio::awaitable<void> route_client(Client& client, const std::vector<Route>& routes,
                                   const std::shared_ptr<spdlog::logger>& log) {
  std::vector<bool> matched(routes.size());
  for (std::size_t i = 0; i < routes.size(); ++i)
    matched[i] = !routes[i].match || routes[i].match->matches(client);

  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (!matched[i] || !routes[i].handle) continue;
    std::optional<Verdict> verdict;
    try {
      verdict = co_await routes[i].handle->handle(client);
    } catch (const std::exception& e) {
      // A host's handler threw: that client fails, everyone else carries on.
      if (log) log->error("client #{}: handler of route {} threw: {}", client.id(), i, e.what());
      verdict = Verdict::fail(PgError::fatal(sqlstate::internal_error, "internal error in pggat"));
    }
    switch (verdict->kind()) {
      case Verdict::Kind::next:
        continue;
      case Verdict::Kind::done:
        co_return;
      case Verdict::Kind::fail:
        (void)co_await client.send_error(verdict->error());
        co_return;
    }
  }
  (void)co_await client.send_error(PgError::fatal(
      sqlstate::invalid_catalog_name, "database \"" + client.database + "\" does not exist"));
}

}  // namespace pggat::router
