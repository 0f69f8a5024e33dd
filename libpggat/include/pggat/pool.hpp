// Pool: the servers behind a route and the clients they serve.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "pggat/client.hpp"
#include "pggat/context.hpp"
#include "pggat/export.hpp"
#include "pggat/handler.hpp"
#include "pggat/recipe.hpp"

namespace pggat {

// A snapshot of a pool's figures.
struct PoolStats {
  std::uint64_t clients = 0;          // being served now
  std::uint64_t clients_waiting = 0;  // waiting for a server
  std::uint64_t servers_idle = 0;
  std::uint64_t servers_active = 0;      // lent to a client
  std::uint64_t servers_connecting = 0;  // being dialed
  std::uint64_t servers_resetting = 0;   // being cleaned after a client
  std::uint64_t acquires = 0;            // total servers handed to clients
  std::uint64_t acquire_timeouts = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t servers_discarded = 0;  // closed because broken or unclean
};

class PGGAT_API Pool {
 public:
  virtual ~Pool() = default;

  // Recipes can change while the pool runs (discovery adds and removes them).
  virtual void add_recipe(std::string name, Recipe recipe) = 0;
  virtual void remove_recipe(std::string_view name) = 0;

  // Serves an authenticated client until it leaves.
  virtual asio::awaitable<Verdict> serve(Client& client) = 0;

  virtual void start(const Context& context) = 0;
  virtual void stop() = 0;

  [[nodiscard]] virtual PoolStats stats() const = 0;
};

}  // namespace pggat
