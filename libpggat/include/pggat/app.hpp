// App: one running pggat instance — its listeners, routes, pools and clients.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <spdlog/logger.h>

#include "pggat/config.hpp"
#include "pggat/export.hpp"
#include "pggat/pool.hpp"
#include "pggat/server.hpp"

namespace pggat {

namespace detail {
class AppState;
}

struct AppStats {
  std::uint64_t clients = 0;           // connected now
  std::uint64_t clients_accepted = 0;  // since start
  std::uint64_t clients_rejected = 0;  // refused by max_connections or while shutting down
  // Of the clients connected now, idle ones that a pool parked: waiting for
  // their next message with no coroutine frame (transaction pooling does
  // this to a client idle since its greeting or for a second or two).
  std::uint64_t clients_parked = 0;
  // Clients moved from one thread to another between two units of work
  // (Config::thread_fill), since start.
  std::uint64_t clients_moved = 0;
};

// One listener's figures.
struct ListenerStats {
  std::string address;             // as bound: "127.0.0.1:6432" or a socket path
  std::uint64_t incoming = 0;      // connections accepted from the socket, since start
  std::uint64_t accepted = 0;      // of those, clients let in after their startup packet
  std::uint64_t rejected = 0;      // refused (max_connections, shutting down)
  std::uint64_t clients = 0;       // connected now
};

// One pool as the App finds it in its routes, with its figures.
struct PoolSnapshot {
  // The pool's `name` option, or where it is in the config:
  // "servers[0].routes[1]" (with "/2" for a handler's third pool).
  std::string name;
  // Its primary recipe's user and database on the server (the first
  // recipe's), empty when it has none.
  std::string user;
  std::string database;
  PoolDescription description;
  PoolStats stats;
  std::vector<RecipeStats> recipes;
};

// Runs on the executor it is given: the host's own io_context works, so does a
// dedicated one. Listeners, timers and shutdown happen on that executor. With
// threads > 1 the App starts threads - 1 more, each with an io_context of its
// own, and spreads client connections over them and the host's executor; a
// connection stays on its thread, servers move to the thread of the client
// they are lent to. Handlers, matchers, pools and middlewares are then called
// from several threads at once (each client from one). shutdown() may be
// called from any thread; the extra threads end once every client has left.
class PGGAT_API App {
 public:
  // A null logger logs to stderr.
  explicit App(asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log = nullptr);
  App(asio::any_io_executor executor, Config config, std::shared_ptr<spdlog::logger> log = nullptr);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  void add_server(Server server);
  void set_shutdown_timeout(std::chrono::nanoseconds timeout);
  // Serve Prometheus figures over HTTP (Config::metrics). Before start().
  void set_metrics(MetricsOptions options);
  // Answer clients of options.database with the admin console (Config::admin).
  // Before start().
  void set_admin(AdminOptions options);
  // Log each client's connect and disconnect at info (LogOptions::connections).
  void set_log_connections(bool on);
  // Where reload() without a config and the console's RELOAD get the new
  // config (the CLI reads its file again); a ConfigError it throws refuses
  // the reload.
  void set_config_loader(std::function<Config()> loader);
  // Called on the executor when a reload has passed its checks, just before
  // it is applied: the host applies what the App does not own (the CLI: the
  // log level).
  void set_reload_hook(std::function<void(const Config&)> hook);
  // Threads serving clients, the host's executor included (0: one per core).
  // An App made without a Config uses 1; with one, Config::threads. Before start().
  void set_threads(std::size_t threads);
  // As set, or once started, how many there are.
  [[nodiscard]] std::size_t threads() const;
  // Config::thread_fill, in percent (0: round robin). Before start().
  void set_thread_fill(std::uint32_t percent);

  // Binds every listener, then starts handlers and pools. Throws
  // std::runtime_error naming the address and the reason when one cannot be
  // bound (nothing is left listening then). Call before running the executor,
  // or on it.
  void start();

  // Where listeners ended up: "127.0.0.1:54321" (port 0 resolved) or socket paths.
  [[nodiscard]] std::vector<std::string> bound_addresses() const;

  // Stops accepting, lets sessions finish for up to `grace` (the configured
  // shutdown_timeout when negative), then closes the rest, stops pools and calls
  // on_stopped on the executor. Safe from any thread; later calls add callbacks and
  // may shorten the grace period (never lengthen it): shutdown(0ns) closes the rest now.
  void shutdown(std::chrono::nanoseconds grace = std::chrono::nanoseconds(-1),
                std::function<void()> on_stopped = {});

  // Live reload, on the executor. Listeners whose address stays keep their
  // socket and take the new settings for later clients; new addresses are
  // bound, gone ones closed (their clients stay). A route whose handler JSON
  // did not change keeps its running handler, pools and servers; a pool
  // handler whose pool settings did not change takes changed recipes in
  // place (servers of a replaced recipe close as they come back). Every
  // other new handler starts and takes new clients; the ones it replaced
  // stop once their last client has gone. threads and metrics need a
  // restart (a warning says so). On any error (a listen address that cannot
  // be bound, a TLS file) nothing changes; done gets it, or nullopt once
  // applied. Either way the outcome is logged.
  void reload(Config config, std::function<void(std::optional<std::string> error)> done = {});
  // The same with the config loader's config; its ConfigError is the error.
  void reload(std::function<void(std::optional<std::string> error)> done = {});

  [[nodiscard]] AppStats stats() const;
  // Snapshots, safe from any thread while the App runs (each figure is read
  // on its own, not all at one instant).
  [[nodiscard]] std::vector<ListenerStats> listener_stats() const;
  [[nodiscard]] std::vector<PoolSnapshot> pools() const;
  // Where the Prometheus endpoint listens ("127.0.0.1:9930", port 0
  // resolved); empty without one. After start().
  [[nodiscard]] std::string metrics_address() const;
  [[nodiscard]] std::shared_ptr<spdlog::logger> logger() const;

 private:
  std::shared_ptr<detail::AppState> state_{};
};

}  // namespace pggat
