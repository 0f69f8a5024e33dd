// App: listeners, the life of each client connection, cancel routing, shutdown.
#include "pggat/app.hpp"

#include <openssl/rand.h>

#include <array>

#include <absl/container/flat_hash_map.h>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "admin/console.hpp"
#include "backend/server_connection.hpp"
#include "frontend/client_session.hpp"
#include "frontend/startup.hpp"
#include "metrics/exporter.hpp"
#include "net/io_threads.hpp"
#include "net/listener.hpp"
#include "net/spawn.hpp"
#include "net/tls.hpp"
#include "pggat/duration.hpp"
#include "pggat/proto/backend.hpp"
#include "router/route_client.hpp"

namespace pggat {
namespace detail {

class AppState : public std::enable_shared_from_this<AppState>, public admin::ConsoleHost {
 public:
  AppState(asio::any_io_executor ex, std::shared_ptr<spdlog::logger> logger)
      : executor(std::move(ex)), log(logger ? std::move(logger) : default_logger()) {}

  enum class Phase { created, running, stopping, stopped };

  // Handlers a reload replaced: stopped once no client can reach them, when
  // the last route table that holds them goes (the last of their clients).
  struct Retirement {
    asio::any_io_executor executor;
    std::vector<std::shared_ptr<Handler>> handlers;
    // Their pools, by the names they had, listed as "<name> (retiring)"
    // while they still serve clients.
    std::vector<std::pair<std::string, std::shared_ptr<Pool>>> pools;
    ~Retirement() {
      for (auto& h : handlers) asio::post(executor, [h = std::move(h)] { h->stop(); });
    }
  };

  // One config server's routes. A client keeps the table it was routed by
  // for as long as it stays: a reload never takes a handler from under it.
  struct RouteTable {
    std::vector<Route> routes;
    mutable std::shared_ptr<Retirement> retirement{};  // set when a reload replaces the table
  };

  // What a listener's new clients get; a reload swaps it whole.
  struct Serving {
    ListenerOptions options;
    std::shared_ptr<net::TlsServerContext> tls;  // null: SSLRequest gets 'N'
    std::shared_ptr<const RouteTable> routes;
    std::shared_ptr<const AdminOptions> admin;  // null: no console
  };

  struct ListenerRuntime {
    std::unique_ptr<net::Listener> listener;
    std::shared_ptr<const Serving> serving;  // under `mu`
    std::uint32_t active = 0;  // these four under `mu`
    std::uint64_t incoming = 0;
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;
  };

  struct Connected;  // a client from accept until it is gone, below

  // What SHOW CLIENTS lists of a client beyond its session's facts: who it
  // said it was once the startup packet was read (handlers may rewrite the
  // session's own fields later, on its thread), and since when. One string
  // for the three names, short enough for the string's own buffer with
  // typical names: an idle client keeps it.
  class Listing {
   public:
    Listing() = default;
    Listing(std::string_view user, std::string_view database, std::string_view application_name)
        : connected_at_(std::chrono::steady_clock::now()) {
      names_.reserve(user.size() + database.size() + application_name.size() + 2);
      names_.append(user).append(1, '\0').append(database).append(1, '\0').append(application_name);
    }
    explicit operator bool() const { return !names_.empty(); }  // listed once the startup is read
    [[nodiscard]] std::chrono::steady_clock::time_point connected_at() const { return connected_at_; }
    // Connected is complete here: a member function's body is compiled after its class.
    [[nodiscard]] admin::ClientRow row(const Connected& c) const {
      const std::string_view names = names_;
      const std::size_t a = names.find('\0');
      const std::size_t b = names.find('\0', a + 1);
      // The wall clock's time of it, from the steady one: 8 bytes less per client.
      const auto since = std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::steady_clock::now() - connected_at_);
      return {.id = c.session.facts.id,
              .user = std::string(names.substr(0, a)),
              .database = std::string(names.substr(a + 1, b - a - 1)),
              .remote_address = c.session.facts.remote_address,
              .local_address = *c.session.facts.local_address,
              .application_name = std::string(names.substr(b + 1)),
              .tls = c.session.ssl,
              .admin = c.admin,
              .connected_at = std::chrono::system_clock::now() - since};
    }

   private:
    std::string names_;  // user NUL database NUL application_name
    std::chrono::steady_clock::time_point connected_at_{};
  };

  // Listeners, timers, shutdown and on_stopped live on `executor` (the
  // host's); client connections are spread over `threads`.
  asio::any_io_executor executor;
  std::shared_ptr<spdlog::logger> log;
  // Before start: what add_server gave. Once running, what the route
  // tables were made from (SHOW CONFIG), replaced by a reload; under `mu`.
  std::vector<std::unique_ptr<Server>> servers;
  std::vector<std::shared_ptr<const RouteTable>> tables;  // one per server, under `mu`
  std::vector<std::weak_ptr<Retirement>> retirements;     // under `mu`
  std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds(30);  // under `mu` once running
  std::chrono::nanoseconds stat_log_period{0};  // under `mu` once running
  std::size_t thread_count = 1;  // 0: one per core
  std::uint32_t thread_fill = Config{}.thread_fill;  // percent
  std::optional<MetricsOptions> metrics_options;
  std::shared_ptr<const AdminOptions> admin_options;  // under `mu` once running
  std::atomic<bool> log_connections = false;
  std::function<Config()> config_loader;
  std::function<void(const Config&)> on_reload;
  std::chrono::steady_clock::time_point started_at{};
  std::unique_ptr<metrics::Exporter> exporter;  // made and destroyed on `executor`
  std::unique_ptr<net::IoThreads> threads;
  std::atomic<Phase> phase = Phase::created;

  std::vector<std::unique_ptr<ListenerRuntime>> listeners;
  // Closed by a reload; kept while their clients may still count on them.
  std::vector<std::unique_ptr<ListenerRuntime>> closed_listeners;
  std::vector<std::function<void()>> on_stopped;
  std::optional<asio::steady_timer> grace_timer;
  std::optional<asio::steady_timer> stat_timer;
  std::optional<asio::steady_timer> sweep_timer;  // sweep_sessions' tick

  // Touched by every thread's connections; the phase moves to stopping under
  // it too, so the last client to leave and shutdown() agree on who finishes.
  mutable std::mutex mu;
  // By pggat's key. A pointer per slot: the table has room for up to twice
  // as many clients as there are, so what a slot holds is paid for twice.
  absl::flat_hash_map<BackendKey, Connected*> sessions;
  std::uint64_t next_client_id = 1;
  std::array<std::uint32_t, 128> key_words{};  // random words for new_key_locked, used from the end
  std::size_t key_words_left = 0;
  AppStats stats;
  bool sessions_closing = false;  // the drain is over: close_sessions ran

  static std::shared_ptr<spdlog::logger> default_logger() {
    // Not registered with spdlog's global registry: instances stay independent.
    auto logger = std::make_shared<spdlog::logger>(
        "pggat", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    logger->set_level(spdlog::level::info);
    return logger;
  }

  static Expected<std::shared_ptr<net::TlsServerContext>, std::string> make_tls(const ListenerOptions& options) {
    if (!options.ssl) return std::shared_ptr<net::TlsServerContext>();
    auto tls = net::TlsServerContext::create(*options.ssl);
    if (!tls) return Unexpected("TLS for listener " + options.address + ": " + tls.error());
    return std::move(*tls);
  }

  // Accepts on `lr` until it is closed, each client onto the next thread.
  void spawn_accept_loop(ListenerRuntime* lr) {
    log->info("listening on {}{}", lr->listener->bound_address(), lr->serving->tls ? " (TLS)" : "");
    net::spawn(executor,
               lr->listener->run([t = threads.get()] { return t->next(); },
                                 [self = shared_from_this(), lr](net::Socket socket, const net::Listener::Peer& peer) {
                                   const auto ex = socket.get_executor();
                                   auto connected = self->connect(self, lr, std::move(socket), peer);
                                   net::spawn_detached(ex, self->serve_connection(std::move(connected)));
                                 }),
               log, "listener");
  }

  void start() {
    if (phase != Phase::created) throw std::logic_error("pggat::App::start called twice");
    std::vector<std::shared_ptr<const RouteTable>> made;
    for (const auto& server : servers) made.push_back(std::make_shared<RouteTable>(RouteTable{server->routes(), {}}));
    std::vector<std::unique_ptr<ListenerRuntime>> bound;
    for (std::size_t i = 0; i < servers.size(); ++i) {
      for (const ListenerOptions& options : servers[i]->listeners()) {
        auto listener = net::Listener::bind(executor, options);
        // The text already names the address and the reason.
        if (!listener) throw std::runtime_error(listener.error());
        auto tls = make_tls(options);
        if (!tls) throw std::runtime_error(tls.error());
        auto runtime = std::make_unique<ListenerRuntime>();
        runtime->listener = std::move(*listener);
        runtime->serving = std::make_shared<const Serving>(Serving{options, std::move(*tls), made[i], admin_options});
        bound.push_back(std::move(runtime));
      }
    }
    if (metrics_options) {
      // A weak reference: the endpoint stops before the state goes.
      auto exporter_or = metrics::Exporter::start(
          *metrics_options, [weak = weak_from_this()] {
            auto self = weak.lock();
            return self ? self->metrics_snapshot() : metrics::Snapshot{};
          });
      if (!exporter_or) throw std::runtime_error(exporter_or.error());
      exporter = std::move(*exporter_or);
    }
    {
      std::lock_guard lock(mu);
      listeners = std::move(bound);
      tables = std::move(made);
    }
    const std::size_t n = thread_count == 0 ? net::default_thread_count() : thread_count;
    threads = std::make_unique<net::IoThreads>(executor, n - 1, thread_fill * 10);
    phase = Phase::running;
    started_at = std::chrono::steady_clock::now();
    const Context context{executor, log};
    for (const auto& table : tables)
      for (const Route& route : table->routes)
        if (route.handle) route.handle->start(context);
    for (auto& runtime : listeners) spawn_accept_loop(runtime.get());
    if (exporter) log->info("serving metrics on http://{}{}", exporter->address(), metrics_options->path);
    if (stat_log_period.count() > 0) {
      stat_timer.emplace(executor);
      schedule_stat_line();
    }
    sweep_timer.emplace(executor);
    schedule_sweep();
  }

  // Once a second, while running or draining: idle clients are parked
  // (running only), startups past their deadline cut and blind reads looked at.
  void schedule_sweep() {
    sweep_timer->expires_after(std::chrono::seconds(1));
    sweep_timer->async_wait([self = shared_from_this()](std::error_code ec) {
      const Phase phase = self->phase;
      if (ec || (phase != Phase::running && phase != Phase::stopping)) return;
      self->sweep_sessions(phase == Phase::running);
      self->schedule_sweep();
    });
  }

  // One walk of the sessions under `mu` for the sweep's jobs.
  //
  // Clients whose startup packets are not all there by their deadline
  // (ClientSession::startup_deadline): their stream's operations are
  // cancelled on their thread, which ends read_startup, and admit tells
  // them why. One that is between two operations then is cut by a later
  // sweep, as its deadline stays.
  //
  // With `park`, clients that were parked once and now wait between units in
  // a frame of their own (ClientSession::waiting_since) are parked again
  // after a second or two of waiting: an idle client then holds no frame.
  //
  // Clients whose read waits blind (Stream::set_watched_reads: inside a
  // transaction's turns) are looked at for an end of file that came with
  // their last message.
  void sweep_sessions(bool park) {
    const std::uint32_t now = ClientSession::idle_clock_seconds();
    std::lock_guard lock(mu);
    for (const auto& [key, c] : sessions) {
      const std::uint32_t deadline = c->session.startup_deadline.load(std::memory_order_relaxed);
      if (deadline != 0 && now >= deadline) {
        cut_on_its_thread(*c, key);
        continue;
      }
      if (c->session.conn.stream.blind()) look_on_its_thread(*c, key);
      if (!park) continue;
      const std::uint32_t since = c->session.waiting_since.load(std::memory_order_relaxed);
      if (since != 0 && now - since >= 1) park_on_its_thread(*c, key);
    }
  }

  // Under `mu`. A client whose read waits blind (Stream::set_watched_reads)
  // and has closed meanwhile: the read ends, and with it the client's unit.
  void look_on_its_thread(Connected& c, BackendKey key) {
    on_its_thread(c, key, [](Connected& c) { c.session.conn.stream.end_blind_read_at_eof(); });
  }

  // Under `mu`.
  void cut_on_its_thread(Connected& c, BackendKey key) {
    on_its_thread(c, key, [](Connected& c) {
      ClientSession& session = c.session;
      if (session.startup_deadline.load(std::memory_order_relaxed) == 0) return;  // done meanwhile
      session.startup_timed_out = true;
      session.conn.stream.cancel();
    });
  }

  // Under `mu`. On the client's thread the wait is still pending when
  // waiting_since is set: cancelling it ends only that wait.
  void park_on_its_thread(Connected& c, BackendKey key) {
    on_its_thread(c, key, [](Connected& c) {
      ClientSession& session = c.session;
      if (session.waiting_since.load(std::memory_order_relaxed) == 0) return;
      session.park_requested = true;
      session.conn.stream.cancel();
    });
  }

  // Under `mu`: `act` runs on the session's thread, if it is still there then.
  template <class Act>
  void on_its_thread(Connected& c, BackendKey key, Act act) {
    post_to_session(c.thread, key, std::move(act));
  }

  // Under `mu` or not. A session that moved to another thread before `act`
  // ran on `where` is followed there: it moves on its own thread, between
  // two handlers, and tells `mu` once its connection is on the other one.
  template <class Act>
  void post_to_session(const net::IoExecutor& where, BackendKey key, Act act) {
    asio::post(where, [self = shared_from_this(), where, key, act = std::move(act)]() mutable {
      Connected* found = nullptr;
      {
        std::lock_guard lock(self->mu);
        auto it = self->sessions.find(key);
        if (it == self->sessions.end()) return;
        if (it->second->thread != where) return self->post_to_session(it->second->thread, key, std::move(act));
        found = it->second;
      }
      act(*found);
    });
  }

  std::vector<ListenerStats> listener_stats() const {
    std::lock_guard lock(mu);
    std::vector<ListenerStats> out;
    for (const auto& lr : listeners)
      out.push_back({.address = lr->listener->bound_address(),
                     .incoming = lr->incoming,
                     .accepted = lr->accepted,
                     .rejected = lr->rejected,
                     .clients = lr->active});
    return out;
  }

  struct NamedPool {
    std::string name;
    std::shared_ptr<Pool> pool;
  };

  // Every pool of the routes, once each (a pool may serve several routes),
  // named by its `name` option or where it first is in the config.
  std::vector<NamedPool> named_pools() const {
    std::vector<std::shared_ptr<const RouteTable>> current;
    std::vector<std::shared_ptr<Retirement>> retiring;
    {
      std::lock_guard lock(mu);
      current = tables;
      for (const auto& weak : retirements)
        if (auto r = weak.lock()) retiring.push_back(std::move(r));
    }
    std::vector<NamedPool> out;
    for (std::size_t i = 0; i < current.size(); ++i) {
      const auto& routes = current[i]->routes;
      for (std::size_t j = 0; j < routes.size(); ++j) {
        if (!routes[j].handle) continue;
        const auto pools = routes[j].handle->pools();
        for (std::size_t k = 0; k < pools.size(); ++k) {
          if (!pools[k] || std::any_of(out.begin(), out.end(),
                                       [&](const NamedPool& n) { return n.pool == pools[k]; }))
            continue;
          std::string name = pools[k]->describe().name;
          if (name.empty())
            name = "servers[" + std::to_string(i) + "].routes[" + std::to_string(j) + "]" +
                   (k > 0 ? "/" + std::to_string(k) : std::string());
          out.push_back({std::move(name), pools[k]});
        }
      }
    }
    // Replaced by a reload and still serving the clients they had.
    for (const auto& r : retiring)
      for (const auto& [name, pool] : r->pools) out.push_back({name + " (retiring)", pool});
    return out;
  }

  std::vector<PoolSnapshot> pool_snapshots() const {
    std::vector<PoolSnapshot> out;
    for (const NamedPool& named : named_pools()) {
      PoolSnapshot p;
      p.name = named.name;
      p.description = named.pool->describe();
      p.stats = named.pool->stats();
      p.recipes = named.pool->recipe_stats();
      for (const RecipeStats& r : p.recipes) {
        if (r.replica) continue;
        p.user = r.username;
        p.database = r.database;
        break;
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  // The admin console's questions (admin::ConsoleHost).
  std::vector<PoolSnapshot> pools() const override;
  std::vector<admin::ClientRow> clients() const override {
    std::lock_guard lock(mu);
    std::vector<admin::ClientRow> out;
    for (const auto& [key, c] : sessions)
      if (c->listing) out.push_back(c->listing.row(*c));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }
  std::vector<admin::PoolServers> server_connections() const override {
    std::vector<admin::PoolServers> out;
    for (const NamedPool& named : named_pools()) out.push_back({named.name, named.pool->server_stats()});
    return out;
  }
  std::vector<admin::ConfigRow> config() const override {
    const auto list = [](const std::vector<std::string>& v) {
      std::string out;
      for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
      return out;
    };
    std::lock_guard lock(mu);
    std::vector<std::string> addresses;
    for (const auto& server : servers)
      for (const auto& l : server->listeners()) addresses.push_back(l.address);
    std::vector<admin::ConfigRow> rows{
        {"listen", list(addresses), ""},
        {"threads", std::to_string(threads ? threads->size() : thread_count), "0", false},
        {"thread_fill", std::to_string(thread_fill), std::to_string(Config{}.thread_fill), false},
        {"shutdown_timeout", format_duration(shutdown_timeout), "30s"},
        {"stat_log_period", format_duration(stat_log_period), "0s"},
        {"metrics.listen", metrics_options ? metrics_options->listen : "", "", false},
        {"admin.database", admin_options ? admin_options->database : "", "pggat"},
        {"admin_users", admin_options ? list(admin_options->admin_users) : "", ""},
        {"stats_users", admin_options ? list(admin_options->stats_users) : "", ""},
        {"log.connections", log_connections ? "yes" : "no", "no"}};
    return rows;
  }
  std::chrono::nanoseconds uptime() const override { return std::chrono::steady_clock::now() - started_at; }
  std::optional<std::string> pause(const std::string& pool, bool on) override {
    bool found = false;
    for (const NamedPool& named : named_pools()) {
      if (!pool.empty() && named.name != pool) continue;
      found = true;
      try {
        on ? named.pool->pause() : named.pool->resume();
      } catch (const std::logic_error& e) {
        return "pool \"" + named.name + "\": " + e.what();
      }
    }
    if (!found) return "no such database: " + pool;
    return std::nullopt;
  }
  std::optional<std::string> kill(const std::string& pool) override {
    if (pool.empty()) return std::string("KILL needs a database (a pool's name)");
    std::shared_ptr<Pool> target;
    for (const NamedPool& named : named_pools())
      if (named.name == pool) target = named.pool;
    if (!target) return "no such database: " + pool;
    try {
      target->pause();  // as PgBouncer: new clients wait for RESUME
    } catch (const std::logic_error& e) {
      return "pool \"" + pool + "\": " + e.what();
    }
    std::lock_guard lock(mu);
    for (auto& [key, c] : sessions)
      if (c->session.pool == target.get()) close_session_on_its_thread(*c, key);
    return std::nullopt;
  }
  void shutdown() override {
    asio::post(executor, [self = shared_from_this()] { self->shutdown(std::chrono::nanoseconds(-1), {}); });
  }

  metrics::Snapshot metrics_snapshot() const {
    return {.app = snapshot(), .listeners = listener_stats(), .pools = pool_snapshots()};
  }

  void schedule_stat_line() {
    stat_timer->expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(stat_log_period));
    stat_timer->async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec || self->phase != Phase::running) return;
      const AppStats s = self->snapshot();
      PoolStats pools;
      for (const PoolSnapshot& p : self->pool_snapshots()) pools.add(p.stats);
      // pggat's line, with PgBouncer's counters beside it.
      self->log->info(
          "{} transactions, {} queries | {} servers ({} active, {} idle, {} resetting, {} dialing) | "
          "{} clients ({} waiting, {} accepted, {} rejected)",
          pools.transactions, pools.queries,
          pools.servers_active + pools.servers_idle + pools.servers_resetting, pools.servers_active,
          pools.servers_idle, pools.servers_resetting, pools.servers_connecting, s.clients,
          pools.clients_waiting, s.clients_accepted, s.clients_rejected);
      self->schedule_stat_line();
    });
  }

  AppStats snapshot() const {
    std::lock_guard lock(mu);
    AppStats s = stats;
    for (const auto& [key, c] : sessions)
      if (c->session.waiting_parked.load(std::memory_order_relaxed)) ++s.clients_parked;
    if (threads) s.clients_moved = threads->moves();
    return s;
  }

  BackendKey new_key_locked() {
    for (;;) {
      // One RAND_bytes call per 64 keys: a call costs about as much as the
      // rest of accepting a connection (OpenSSL's DRBG, locks), and the keys
      // are as unpredictable taken from a batch. Under `mu`, like the batch.
      if (key_words_left == 0) {
        if (RAND_bytes(reinterpret_cast<unsigned char*>(key_words.data()), sizeof key_words) != 1)
          throw std::runtime_error("RAND_bytes failed");
        key_words_left = key_words.size();
      }
      std::uint32_t words[2] = {key_words[key_words_left - 1], key_words[key_words_left - 2]};
      key_words_left -= 2;
      // Looks like a process id to clients that print it (positive int32).
      BackendKey key{(words[0] & 0x7fffffff) | 1, words[1]};
      if (!sessions.contains(key)) return key;
    }
  }

  void forward_cancel(BackendKey key) {
    std::optional<ClientSession::CancelTarget> target;
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mu);
      if (auto it = sessions.find(key); it != sessions.end()) {
        target = it->second->session.cancel_target();
        id = it->second->session.facts.id;
      }
    }
    if (!target) {
      log->debug("cancel request for an unknown or idle client: ignored");
      return;
    }
    log->debug("cancel request for client #{}: forwarding to {}", id, target->address.to_string());
    net::spawn(executor, backend::send_cancel(target->address, target->key, std::chrono::seconds(5)),
               log, "cancel request");
  }

  // Startup and the checks before routing: true when the client goes on to
  // its routes with user, database and parameters set; otherwise it was
  // answered (or went away) and is closed.
  asio::awaitable<bool> admit(ClientSession& session, ListenerRuntime* lr, const Serving& serving,
                              bool over_limit) {
    log->trace("connection #{} accepted from {}", session.facts.id, session.facts.remote_address);
    auto outcome = co_await frontend::read_startup(session.conn, serving.tls);
    session.end_startup();
    if (auto* cancel = std::get_if<frontend::CancelRequest>(&outcome)) {
      forward_cancel(cancel->key);
      co_return false;
    }
    auto* startup = std::get_if<frontend::StartupRequest>(&outcome);
    if (startup == nullptr) {
      // The startup phase failed (an error was sent when one was due), or
      // the sweep cut it at its deadline. PostgreSQL just drops such clients
      // ("incomplete startup packet"); a clear error costs nothing and helps
      // whoever debugs a stuck client.
      // (Cut in its TLS handshake, the client gets no error: the stream
      // refuses writes after a failed handshake.)
      const auto& failed = std::get<frontend::StartupFailed>(outcome);
      if (session.startup_timed_out)
        (void)co_await session.client.send_error(
            PgError::fatal(sqlstate::protocol_violation, "timed out waiting for a startup packet"));
      else if (!failed.reason.empty())
        log->info("client #{} from {}: {}", session.facts.id, session.facts.remote_address, failed.reason);
      co_await session.conn.stream.close_gracefully(std::chrono::seconds(1));
      co_return false;
    }
    if (session.conn.stream.is_tls()) session.set_tls(serving.tls->tls_server_end_point());
    // A client the listener accepted before it closed is served while
    // pggat drains (a takeover's last connections), unless the drain is over.
    bool refused = over_limit;
    {
      std::lock_guard lock(mu);
      refused = refused || phase == Phase::stopped || sessions_closing;
      if (refused) {
        ++stats.clients_rejected;
        ++lr->rejected;
      }
    }
    if (refused) {
      const auto allowed = std::to_string(serving.options.max_connections);
      const PgError error =
          over_limit ? PgError::fatal(sqlstate::too_many_connections,
                                      "too many connections (listener " + *session.facts.local_address +
                                          " allows " + allowed + ")")
                     : PgError::fatal(sqlstate::cannot_connect_now, "pggat is shutting down");
      (void)co_await session.client.send_error(error);
      co_await session.conn.stream.close_gracefully(std::chrono::seconds(1));
      co_return false;
    }
    {
      std::lock_guard lock(mu);
      ++stats.clients_accepted;
      ++lr->accepted;
    }
    Client& client = session.client;
    client.user = std::move(startup->user);
    client.database = std::move(startup->database);
    client.parameters = std::move(startup->parameters);
    {
      const std::string* application_name = client.parameters.find("application_name");
      Listing listing(client.user, client.database, application_name ? *application_name : std::string());
      const bool admin = serving.admin && client.database == serving.admin->database;
      std::lock_guard lock(mu);
      if (auto it = sessions.find(session.key); it != sessions.end()) {
        it->second->listing = std::move(listing);
        it->second->admin = admin;
      }
    }
    if (log_connections)
      log->info("client #{} connected from {}: user \"{}\" database \"{}\"{}", session.facts.id,
                session.facts.remote_address, client.user, client.database, session.ssl ? " (TLS)" : "");
    else
      log->debug("client #{} from {}: user \"{}\" database \"{}\"", session.facts.id,
                 session.facts.remote_address, client.user, client.database);
    co_return true;
  }

  // A client from accept until it is gone: counted against its listener's
  // limit and findable by its key (CancelRequest, the console) until this
  // goes, however the connection ends, even if its coroutine never ran.
  struct Connected final : ClientSession::Owner {
    Connected(std::shared_ptr<AppState> app, ListenerRuntime* lr, std::shared_ptr<const Serving> serving,
              net::Socket socket, ClientSession::Facts facts, BackendKey key)
        : app(std::move(app)),
          lr(lr),
          thread(socket.get_executor()),
          serving(std::move(serving)),
          session(std::move(socket), std::move(facts), key) {}
    Connected(const Connected&) = delete;
    Connected& operator=(const Connected&) = delete;
    ~Connected() {
      session.conn.stream.close();
      bool last = false;
      {
        std::lock_guard lock(app->mu);
        app->sessions.erase(session.key);
        --lr->active;
        --app->stats.clients;
        last = app->phase == Phase::stopping && app->stats.clients == 0;
      }
      if (last) asio::post(app->executor, [app = app] { app->finish(); });
    }
    ClientSession& owned() override { return session; }
    void moved_to(const net::IoExecutor& executor) override {
      std::lock_guard lock(app->mu);
      thread = executor;
    }
    void finish(std::unique_ptr<ClientSession::Owner> self, Verdict verdict) override {
      std::unique_ptr<Connected> c(static_cast<Connected*>(self.release()));
      c->app->after_parked(std::move(c), std::move(verdict));
    }

    std::shared_ptr<AppState> app;  // kept alive for as long as the connection lives
    ListenerRuntime* lr;
    // Where its handlers run: its socket's io_context, which changes only
    // when it moves (moved_to). Under app->mu.
    net::IoExecutor thread;
    // What the listener's settings are as this client arrives: a reload
    // changes them for later clients only.
    std::shared_ptr<const Serving> serving;
    ClientSession session;
    // Listed once admitted; the client's thread reads it without the lock,
    // as no one else writes it.
    Listing listing;  // under app->mu
    bool admin = false;  // a console client; under app->mu
    bool over_limit = false;
  };

  std::unique_ptr<Connected> connect(std::shared_ptr<AppState> self, ListenerRuntime* lr, net::Socket socket,
                                     const net::Listener::Peer& peer) {
    ClientSession::Facts facts;
    facts.unix_socket = lr->listener->is_unix();
    facts.local_address = &lr->listener->bound_address();
    facts.remote_address = net::endpoint_to_string(peer);
    std::lock_guard lock(mu);
    auto serving = lr->serving;
    facts.max_message_size = serving->options.max_message_size;
    facts.startup_timeout = serving->options.startup_timeout;
    facts.id = next_client_id++;
    ++lr->incoming;
    auto c = std::make_unique<Connected>(std::move(self), lr, std::move(serving), std::move(socket),
                                         std::move(facts), new_key_locked());
    c->session.conn.stream.set_family(peer.protocol().family());
    if (threads && threads->size() > 1 && threads->fill() > 0) c->session.threads = threads.get();
    sessions.emplace(c->session.key, c.get());
    ++lr->active;
    ++stats.clients;
    const auto max_connections = c->serving->options.max_connections;
    c->over_limit = max_connections != 0 && lr->active > max_connections;
    return c;
  }

  // The frame of this coroutine lives as long as the client: what only the
  // startup or the goodbye needs is in admit's frame and plain functions.
  // The data path reports errors as values: an exception here is a bug, logged
  // (net::spawn's contract, kept here for spawn_detached).
  asio::awaitable<void> serve_connection(std::unique_ptr<Connected> c) {
    ClientSession& session = c->session;
    try {
      const bool admitted = co_await admit(session, c->lr, *c->serving, c->over_limit);
      if (!admitted) co_return;
      if (c->serving->admin && session.client.database == c->serving->admin->database) {
        co_await admin::serve_console(session, *c->serving->admin, *this, log);
      } else {
        co_await router::route_client(session.client, c->serving->routes->routes, log);
        if (session.parked()) {
          ClientSession::wait_parked(std::move(c));  // this frame goes; see after_parked
          co_return;
        }
      }
      log_disconnect(session, c->listing.connected_at());
      if (session.left) co_return;  // ~Connected closes it
      co_await session.conn.stream.close_gracefully(std::chrono::seconds(1));
    } catch (...) {
      log_escaped(session, std::current_exception());
    }
  }

  // The end of a client its pool kept parked: what route_client and
  // serve_connection do after the pool's serve. A client that left without
  // an error owes nothing more, and needs no coroutine.
  void after_parked(std::unique_ptr<Connected> c, Verdict verdict) {
    ClientSession& session = c->session;
    session.pool = nullptr;
    if (verdict.kind() != Verdict::Kind::fail && session.left) {
      log_disconnect(session, c->listing.connected_at());
      return;
    }
    const auto ex = session.conn.stream.get_executor();
    net::spawn_detached(ex, say_goodbye(std::move(c), std::move(verdict)));
  }

  asio::awaitable<void> say_goodbye(std::unique_ptr<Connected> c, Verdict verdict) {
    ClientSession& session = c->session;
    try {
      if (verdict.kind() == Verdict::Kind::fail) (void)co_await session.client.send_error(verdict.error());
      log_disconnect(session, c->listing.connected_at());
      if (session.left) co_return;
      co_await session.conn.stream.close_gracefully(std::chrono::seconds(1));
    } catch (...) {
      log_escaped(session, std::current_exception());
    }
  }

  void log_escaped(const ClientSession& session, const std::exception_ptr& e) const {
    net::log_escaped(*log, e, fmt::format("client connection #{}", session.facts.id));
  }

  void log_disconnect(const ClientSession& session, std::chrono::steady_clock::time_point connected_at) {
    const Client& client = session.client;
    if (log_connections)
      log->info("client #{} disconnected after {}: user \"{}\" database \"{}\" from {}", session.facts.id,
                format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - connected_at)),
                client.user, client.database, session.facts.remote_address);
    else
      log->debug("client #{} disconnected", session.facts.id);
  }

  // A live reload, on `executor`; a refusal is logged.
  std::optional<std::string> reload(Config config) {
    auto error = apply_config(std::move(config));
    return error ? refused(std::move(*error)) : std::nullopt;
  }

  std::optional<std::string> refused(std::string error) {
    log->error("reload refused, the running config stays: {}", error);
    return error;
  }

  // Checks first (TLS files, new listen addresses), then applies: nothing
  // has changed when an error comes back.
  std::optional<std::string> apply_config(Config config) {
    if (phase != Phase::running) return std::string("pggat is not running");
    // Listeners and tables change only on this executor: read here without `mu`.
    struct PlannedListener {
      ListenerOptions options;
      std::size_t server;
      ListenerRuntime* kept = nullptr;  // same address: its socket stays open
      std::unique_ptr<ListenerRuntime> fresh{};
      std::shared_ptr<net::TlsServerContext> tls{};
    };
    std::vector<PlannedListener> planned;
    for (std::size_t i = 0; i < config.servers.size(); ++i) {
      for (const ListenerOptions& options : config.servers[i].listeners()) {
        PlannedListener p{.options = options, .server = i};
        for (const auto& lr : listeners) {
          const bool taken = std::any_of(planned.begin(), planned.end(),
                                         [&](const PlannedListener& q) { return q.kept == lr.get(); });
          if (!taken && lr->serving->options.address == options.address) {
            p.kept = lr.get();
            break;
          }
        }
        if (p.kept && p.kept->serving->options.ssl == options.ssl) {
          p.tls = p.kept->serving->tls;
        } else {
          auto tls = make_tls(options);
          if (!tls) return tls.error();
          p.tls = std::move(*tls);
        }
        if (!p.kept) {
          auto listener = net::Listener::bind(executor, options);
          if (!listener) return listener.error();
          p.fresh = std::make_unique<ListenerRuntime>();
          p.fresh->listener = std::move(*listener);
        }
        planned.push_back(std::move(p));
      }
    }

    // Handlers: an unchanged one that owns pools is kept wherever its route
    // went; a changed one is offered to the handler at the same place
    // (Handler::adopt); the rest are new, and the old ones left over retire.
    struct OldHandler {
      std::shared_ptr<Handler> handler;
      std::string source;
      std::size_t server, route;
      bool claimed = false;
    };
    std::vector<OldHandler> old;
    for (std::size_t i = 0; i < tables.size(); ++i)
      for (std::size_t j = 0; j < tables[i]->routes.size(); ++j)
        if (const Route& r = tables[i]->routes[j]; r.handle)
          old.push_back({r.handle, r.source, i, j});
    std::vector<std::vector<Route>> next;
    for (const Server& server : config.servers) next.push_back(server.routes());
    std::vector<std::vector<bool>> settled;
    for (const auto& routes : next) settled.emplace_back(routes.size(), false);
    std::size_t kept = 0, adopted = 0;
    for (std::size_t i = 0; i < next.size(); ++i) {
      for (std::size_t j = 0; j < next[i].size(); ++j) {
        Route& r = next[i][j];
        if (!r.handle || r.source.empty()) continue;
        for (OldHandler& o : old) {
          if (o.claimed || o.source != r.source || o.handler->pools().empty()) continue;
          r.handle = o.handler;
          o.claimed = settled[i][j] = true;
          ++kept;
          break;
        }
      }
    }
    std::vector<std::shared_ptr<Handler>> fresh;
    for (std::size_t i = 0; i < next.size(); ++i) {
      for (std::size_t j = 0; j < next[i].size(); ++j) {
        Route& r = next[i][j];
        if (!r.handle || settled[i][j]) continue;
        auto o = std::find_if(old.begin(), old.end(),
                              [&](const OldHandler& h) { return !h.claimed && h.server == i && h.route == j; });
        if (o != old.end() && o->handler != r.handle && o->handler->adopt(*r.handle)) {
          r.handle = o->handler;
          o->claimed = true;
          ++adopted;
        } else if (o != old.end() && o->handler == r.handle) {
          o->claimed = true;  // the embedder's own handler object, given again
        } else {
          fresh.push_back(r.handle);
        }
      }
    }
    std::vector<std::string> need_restart;
    if (config.threads != thread_count) need_restart.emplace_back("threads");
    if (config.thread_fill != thread_fill) need_restart.emplace_back("thread_fill");
    if (config.metrics != metrics_options) need_restart.emplace_back("metrics");

    // Nothing can fail from here on.
    if (on_reload) on_reload(config);
    const Context context{executor, log};
    for (const auto& h : fresh) h->start(context);
    auto retirement = std::make_shared<Retirement>();
    retirement->executor = executor;
    for (const OldHandler& o : old)
      if (!o.claimed) retirement->handlers.push_back(o.handler);
    const std::size_t retired = retirement->handlers.size();
    for (const NamedPool& named : named_pools()) {
      const bool leaving = std::any_of(retirement->handlers.begin(), retirement->handlers.end(), [&](const auto& h) {
        const auto pools = h->pools();
        return std::find(pools.begin(), pools.end(), named.pool) != pools.end();
      });
      if (leaving && !named.name.ends_with(" (retiring)")) retirement->pools.emplace_back(named.name, named.pool);
    }
    std::vector<std::shared_ptr<const RouteTable>> made;
    for (auto& routes : next) made.push_back(std::make_shared<RouteTable>(RouteTable{std::move(routes), {}}));
    std::shared_ptr<const AdminOptions> admin =
        config.admin ? std::make_shared<const AdminOptions>(std::move(*config.admin)) : nullptr;
    std::vector<ListenerRuntime*> opened, closed;
    const auto old_period = stat_log_period;
    {
      std::lock_guard lock(mu);
      for (const auto& t : tables) t->retirement = retirement;
      std::erase_if(retirements, [](const auto& weak) { return weak.expired(); });
      if (!retirement->pools.empty()) retirements.push_back(retirement);
      std::vector<std::unique_ptr<ListenerRuntime>> open;
      for (auto& lr : listeners) {
        const bool stays = std::any_of(planned.begin(), planned.end(),
                                       [&](const PlannedListener& p) { return p.kept == lr.get(); });
        if (!stays) {
          // A client it accepts before it closes has no route in the new
          // config; and the old routes must not outlive their clients here.
          closed.push_back(lr.get());
          lr->serving = std::make_shared<const Serving>(
              Serving{lr->serving->options, lr->serving->tls, std::make_shared<RouteTable>(), admin});
        }
        (stays ? open : closed_listeners).push_back(std::move(lr));
      }
      for (PlannedListener& p : planned) {
        auto serving = std::make_shared<const Serving>(Serving{p.options, p.tls, made[p.server], admin});
        if (p.kept) {
          p.kept->serving = std::move(serving);
        } else {
          p.fresh->serving = std::move(serving);
          opened.push_back(p.fresh.get());
          open.push_back(std::move(p.fresh));
        }
      }
      listeners = std::move(open);
      tables = std::move(made);
      servers.clear();
      for (Server& server : config.servers) servers.push_back(std::make_unique<Server>(std::move(server)));
      shutdown_timeout = config.shutdown_timeout;
      stat_log_period = config.stat_log_period;
      admin_options = std::move(admin);
    }
    log_connections = config.log.connections;
    for (ListenerRuntime* lr : closed) {
      log->info("reload: no longer listening on {} (its clients stay)", lr->listener->bound_address());
      lr->listener->close();
    }
    for (ListenerRuntime* lr : opened) spawn_accept_loop(lr);
    if (stat_log_period != old_period) {
      if (stat_log_period.count() > 0) {
        if (!stat_timer) stat_timer.emplace(executor);
        schedule_stat_line();  // moving the expiry cancels the wait in progress
      } else if (stat_timer) {
        stat_timer->cancel();
      }
    }
    for (const std::string& setting : need_restart)
      log->warn("reload: \"{}\" changed, which takes a restart; it stays as it was", setting);
    log->info("reloaded the config: {} handlers kept, {} changed in place, {} new, {} replaced "
              "(stopped once their clients leave); {} listeners opened, {} closed",
              kept, adopted, fresh.size(), retired, opened.size(), closed.size());
    return std::nullopt;
  }

  // A reload from config_loader; a refusal is logged.
  std::optional<std::string> reload_from_loader() {
    if (!config_loader) return refused("nothing to reload from (App::set_config_loader)");
    Config config;
    try {
      config = config_loader();
    } catch (const ConfigError& e) {
      return refused(std::string("config error: ") + e.what());
    } catch (const std::exception& e) {
      return refused(e.what());
    }
    return reload(std::move(config));
  }

  // RELOAD from the console: run on `executor`, answered on the console's own.
  asio::awaitable<std::optional<std::string>> reload() override {
    co_return co_await asio::co_spawn(
        executor,
        [](std::shared_ptr<AppState> self) -> asio::awaitable<std::optional<std::string>> {
          co_return self->reload_from_loader();
        }(shared_from_this()),
        asio::use_awaitable);
  }

  void shutdown(std::chrono::nanoseconds grace, std::function<void()> done) {
    if (done) on_stopped.push_back(std::move(done));
    if (phase == Phase::stopped) {
      run_callbacks();
      return;
    }
    if (phase == Phase::stopping) {
      // A shorter grace brings the deadline forward (the CLI's second signal
      // passes 0: close everyone now); a longer one never extends it.
      if (grace >= std::chrono::nanoseconds::zero() && grace_timer &&
          grace < grace_timer->expiry() - asio::steady_timer::clock_type::now())
        arm_grace_timer(grace);
      return;
    }
    const bool was_running = phase == Phase::running;
    std::uint64_t clients = 0;
    {
      std::lock_guard lock(mu);
      phase = Phase::stopping;
      clients = stats.clients;
    }
    for (auto& lr : listeners) lr->listener->close();
    if (stat_timer) stat_timer->cancel();
    // The park sweep goes on while draining: it cuts late startups.
    if (!was_running || clients == 0) {
      finish();
      return;
    }
    if (grace < std::chrono::nanoseconds::zero()) grace = shutdown_timeout;
    log->info("shutting down: waiting up to {} for {} clients to finish", format_duration(grace),
              clients);
    grace_timer.emplace(executor);
    arm_grace_timer(grace);
  }

  // (Re)sets the end of the grace period to `grace` from now; moving it
  // cancels the earlier wait.
  void arm_grace_timer(std::chrono::nanoseconds grace) {
    grace_timer->expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(grace));
    grace_timer->async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec || self->phase != Phase::stopping) return;
      self->log->info("shutdown timeout: closing {} remaining clients", self->snapshot().clients);
      self->close_sessions();
    });
  }

  // Each session is closed by its own thread: only there is it certain to
  // be alive (it is erased there) and not in the middle of a read or write.
  void close_sessions() {
    std::lock_guard lock(mu);
    sessions_closing = true;
    for (auto& [key, c] : sessions) close_session_on_its_thread(*c, key);
  }

  // Under `mu`.
  void close_session_on_its_thread(Connected& c, BackendKey key) {
    on_its_thread(c, key, [](Connected& c) { ClientSession::close(c); });
  }

  void finish() {
    if (phase == Phase::stopped) return;
    phase = Phase::stopped;
    if (grace_timer) grace_timer->cancel();
    if (sweep_timer) sweep_timer->cancel();
    stop_handlers();
    exporter.reset();  // waits for a scrape in progress
    {
      std::lock_guard lock(mu);
      listeners.clear();
      closed_listeners.clear();
    }
    // Every client has left: nothing runs on the extra threads any more.
    if (threads) threads->stop();
    log->info("stopped");
    // Callbacks run after the current handler returns: a callback may destroy the App.
    asio::post(executor, [self = shared_from_this()] { self->run_callbacks(); });
  }

  void stop_handlers() {
    std::vector<std::shared_ptr<const RouteTable>> current;
    {
      std::lock_guard lock(mu);
      current = tables;
    }
    for (const auto& table : current)
      for (const Route& route : table->routes)
        if (route.handle) route.handle->stop();
  }

  void run_callbacks() {
    auto callbacks = std::move(on_stopped);
    on_stopped.clear();
    for (auto& f : callbacks) f();
  }
};

std::vector<PoolSnapshot> AppState::pools() const { return pool_snapshots(); }

}  // namespace detail

App::App(asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log)
    : state_(std::make_shared<detail::AppState>(std::move(executor), std::move(log))) {}

App::App(asio::any_io_executor executor, Config config, std::shared_ptr<spdlog::logger> log)
    : App(std::move(executor), std::move(log)) {
  for (Server& s : config.servers) add_server(std::move(s));
  state_->shutdown_timeout = config.shutdown_timeout;
  state_->stat_log_period = config.stat_log_period;
  state_->thread_count = config.threads;
  state_->thread_fill = config.thread_fill;
  state_->metrics_options = config.metrics;
  if (config.admin) state_->admin_options = std::make_shared<const AdminOptions>(std::move(*config.admin));
  state_->log_connections = config.log.connections;
}

App::~App() {
  // Closing listeners and sockets is all that can be done without the event
  // loop; coroutines on the host's executor still referencing the state keep
  // it alive until they end.
  auto& st = *state_;
  st.exporter.reset();  // its threads read the state
  const bool running = st.phase == detail::AppState::Phase::running;
  // Nothing can shut it down any more: the App's own timers (the park sweep,
  // the stat line) see the phase and stop re-arming, so that a host
  // io_context still running is left with no work of ours for good.
  if (running) {
    st.phase = detail::AppState::Phase::stopped;
    for (auto& lr : st.listeners) lr->listener->close();
  }
  if (st.threads) st.threads->stop();  // from here on no other thread runs
  {
    std::lock_guard lock(st.mu);
    for (auto& [key, c] : st.sessions) {
      // The threads go below; a host's client that runs again stays put.
      c->session.threads = nullptr;
      if (running) detail::ClientSession::close(*c);
    }
  }
  if (running && st.threads && st.threads->size() > 1) {
    // Servers lent to the extra threads' clients come back as their
    // coroutines are destroyed below; stopped pools close them instead of
    // keeping sockets of io_contexts that are about to go.
    st.stop_handlers();
  } else if (running) {
    // The pools' timers (the janitor) would re-arm for ever: they stop on
    // the executor, if it runs again (or go with it).
    asio::post(st.executor, [state = state_] { state->stop_handlers(); });
  }
  st.threads.reset();  // destroys what was left queued there
}

void App::add_server(Server server) {
  if (state_->phase != detail::AppState::Phase::created)
    throw std::logic_error("pggat::App::add_server after start");
  state_->servers.push_back(std::make_unique<Server>(std::move(server)));
}

void App::set_metrics(MetricsOptions options) {
  if (state_->phase != detail::AppState::Phase::created)
    throw std::logic_error("pggat::App::set_metrics after start");
  state_->metrics_options = std::move(options);
}

void App::set_admin(AdminOptions options) {
  if (state_->phase != detail::AppState::Phase::created)
    throw std::logic_error("pggat::App::set_admin after start");
  if (!options.credentials)
    throw std::invalid_argument("pggat::App::set_admin: the console needs credentials");
  state_->admin_options = std::make_shared<const AdminOptions>(std::move(options));
}

void App::set_log_connections(bool on) { state_->log_connections = on; }

void App::set_config_loader(std::function<Config()> loader) {
  asio::post(state_->executor, [state = state_, loader = std::move(loader)]() mutable {
    state->config_loader = std::move(loader);
  });
}

void App::set_reload_hook(std::function<void(const Config&)> hook) {
  asio::post(state_->executor, [state = state_, hook = std::move(hook)]() mutable {
    state->on_reload = std::move(hook);
  });
}

void App::reload(Config config, std::function<void(std::optional<std::string>)> done) {
  asio::post(state_->executor, [state = state_, config = std::move(config), done = std::move(done)]() mutable {
    auto error = state->reload(std::move(config));
    if (done) done(std::move(error));
  });
}

void App::reload(std::function<void(std::optional<std::string>)> done) {
  asio::post(state_->executor, [state = state_, done = std::move(done)] {
    auto error = state->reload_from_loader();
    if (done) done(std::move(error));
  });
}

void App::set_shutdown_timeout(std::chrono::nanoseconds timeout) { state_->shutdown_timeout = timeout; }

void App::set_threads(std::size_t threads) {
  if (state_->phase != detail::AppState::Phase::created)
    throw std::logic_error("pggat::App::set_threads after start");
  state_->thread_count = threads;
}

void App::set_thread_fill(std::uint32_t percent) {
  if (state_->phase != detail::AppState::Phase::created)
    throw std::logic_error("pggat::App::set_thread_fill after start");
  state_->thread_fill = std::min<std::uint32_t>(percent, 100);
}

std::size_t App::threads() const {
  return state_->threads ? state_->threads->size() : state_->thread_count;
}

void App::start() { state_->start(); }

std::vector<std::string> App::bound_addresses() const {
  std::vector<std::string> out;
  for (const auto& lr : state_->listeners) out.push_back(lr->listener->bound_address());
  return out;
}

void App::shutdown(std::chrono::nanoseconds grace, std::function<void()> on_stopped) {
  asio::post(state_->executor, [state = state_, grace, f = std::move(on_stopped)]() mutable {
    state->shutdown(grace, std::move(f));
  });
}

AppStats App::stats() const { return state_->snapshot(); }

std::vector<ListenerStats> App::listener_stats() const { return state_->listener_stats(); }

std::vector<PoolSnapshot> App::pools() const { return state_->pool_snapshots(); }

std::string App::metrics_address() const {
  return state_->exporter ? state_->exporter->address() : std::string();
}

std::shared_ptr<spdlog::logger> App::logger() const { return state_->log; }

}  // namespace pggat
