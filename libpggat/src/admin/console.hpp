// The admin console: a virtual database answered by pggat itself, over the
// simple query protocol, as PgBouncer's `pgbouncer` database is.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <spdlog/logger.h>

#include "admin/commands.hpp"
#include "frontend/client_session.hpp"
#include "pggat/config.hpp"

namespace pggat::admin {

// What the console asks of the running App. Called from the console
// client's thread.
class ConsoleHost {
 public:
  virtual ~ConsoleHost() = default;
  [[nodiscard]] virtual std::vector<PoolSnapshot> pools() const = 0;
  [[nodiscard]] virtual std::vector<ClientRow> clients() const = 0;
  [[nodiscard]] virtual std::vector<PoolServers> server_connections() const = 0;
  [[nodiscard]] virtual std::vector<ConfigRow> config() const = 0;
  [[nodiscard]] virtual std::chrono::nanoseconds uptime() const = 0;
  // PAUSE (on) or RESUME a pool by name, or every pool (empty name): the
  // error text when there is no such pool or it cannot pause.
  virtual std::optional<std::string> pause(const std::string& pool, bool on) = 0;
  // KILL: pause the pool and close its clients; the error text when there
  // is no such pool.
  virtual std::optional<std::string> kill(const std::string& pool) = 0;
  // SHUTDOWN: as SIGTERM (stop accepting, drain for shutdown_timeout).
  virtual void shutdown() = 0;
  // RELOAD: read the config again and apply it; the error when it was refused.
  virtual asio::awaitable<std::optional<std::string>> reload() = 0;
};

// Authenticates the client with the console's credentials, refuses users
// that are neither admin nor stats users (FATAL 28000), then answers
// commands until the client leaves.
asio::awaitable<void> serve_console(detail::ClientSession& session, const AdminOptions& options,
                                    ConsoleHost& host, std::shared_ptr<spdlog::logger> log);

}  // namespace pggat::admin
