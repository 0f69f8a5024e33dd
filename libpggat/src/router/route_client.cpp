// Running a client through the ordered routes of its server.
#include "router/route_client.hpp"

#include <cstdint>
#include <limits>

#include "frontend/client_session.hpp"
#include "router/pool_handler.hpp"

namespace pggat::router {
namespace {

// Which routes take the client, decided before any handler ran. A bit per
// route: this lives in route_client's frame, as long as the client.
class Matched {
 public:
  Matched(const Client& client, const std::vector<Route>& routes) {
    if (routes.size() > small_limit) more_.resize(routes.size());
    for (std::size_t i = 0; i < routes.size(); ++i) {
      const bool m = !routes[i].match || routes[i].match->matches(client);
      if (routes.size() > small_limit) more_[i] = m;
      else if (m) small_ |= std::uint64_t{1} << i;
    }
  }
  [[nodiscard]] bool operator[](std::size_t i) const {
    return more_.empty() ? ((small_ >> i) & 1U) != 0 : more_[i];
  }

 private:
  static constexpr std::size_t small_limit = std::numeric_limits<std::uint64_t>::digits;
  std::uint64_t small_ = 0;
  std::vector<bool> more_;
};

// A coroutine of its own, so the error's text is not kept in route_client's frame.
asio::awaitable<void> send_no_route(Client& client) {
  (void)co_await client.send_error(PgError::fatal(
      sqlstate::invalid_catalog_name, "database \"" + client.database + "\" does not exist"));
}

Verdict handler_threw(const Client& client, std::size_t route, const std::exception& e,
                      const std::shared_ptr<spdlog::logger>& log) {
  // A host's handler threw: that client fails, everyone else carries on.
  if (log) log->error("client #{}: handler of route {} threw: {}", client.id(), route, e.what());
  return Verdict::fail(PgError::fatal(sqlstate::internal_error, "internal error in pggat"));
}

}  // namespace

asio::awaitable<void> route_client(Client& client, const std::vector<Route>& routes,
                                   const std::shared_ptr<spdlog::logger>& log) {
  const Matched matched(client, routes);
  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (!matched[i] || !routes[i].handle) continue;
    std::optional<Verdict> verdict;
    try {
      // A pool handler run from here may let its pool park the client:
      // nothing below runs after it for a parked one.
      if (auto* parking = dynamic_cast<ParkingHandler*>(routes[i].handle.get()))
        verdict = co_await parking->handle_parkable(client);
      else
        verdict = co_await routes[i].handle->handle(client);
    } catch (const std::exception& e) {
      verdict = handler_threw(client, i, e, log);
    }
    if (client.session().parked()) co_return;
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
  co_await send_no_route(client);
}

}  // namespace pggat::router
