// Server: a set of listeners and the ordered routes their clients go through (pggat's `servers[]`).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "pggat/export.hpp"
#include "pggat/proto/message_types.hpp"
#include "pggat/route.hpp"

namespace pggat {

struct ListenerOptions {
  // "host:port", "[::1]:port", or a unix socket directory "/dir" (socket
  // /dir/.s.PGSQL.5432), "/dir:6432", or a full "/dir/.s.PGSQL.6432" path.
  std::string address{};
  // Clients beyond this many get FATAL 53300; 0 means no limit.
  std::uint32_t max_connections = 0;
  // A client must finish its startup packet within this time.
  std::chrono::nanoseconds startup_timeout = std::chrono::seconds(15);
  // Cap on the length of one client message (PostgreSQL's own cap by default).
  std::uint32_t max_message_size = proto::default_max_message_length;
  // Permissions of a unix socket file (PostgreSQL's unix_socket_permissions).
  std::uint32_t unix_socket_mode = 0777;
};

class PGGAT_API Server {
 public:
  void add_listener(ListenerOptions listener) { listeners_.push_back(std::move(listener)); }
  void add_route(Route route) { routes_.push_back(std::move(route)); }

  [[nodiscard]] const std::vector<ListenerOptions>& listeners() const { return listeners_; }
  [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<ListenerOptions> listeners_{};
  std::vector<Route> routes_{};
};

}  // namespace pggat
