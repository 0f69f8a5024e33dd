// Routing: the matching routes' handlers, in order, for one started-up client.
#pragma once

#include <memory>
#include <vector>

#include <asio/awaitable.hpp>
#include <spdlog/logger.h>

#include "pggat/client.hpp"
#include "pggat/route.hpp"

namespace pggat::router {

// Matchers all see the client as it arrived; handlers then run in route order
// until one is done or fails. Nothing done with it: FATAL 3D000, as PostgreSQL
// answers for a database it does not have. Returns at once when a pool
// parked the client (ClientSession::park): its owner waits for it then.
asio::awaitable<void> route_client(Client& client, const std::vector<Route>& routes,
                                   const std::shared_ptr<spdlog::logger>& log);

}  // namespace pggat::router
