// The server side of a pool: dialing with backoff, lending (lifo, rob), checks, closed idle servers, cleanup, janitor.
#include "pool/server_pool.hpp"

#include <algorithm>
#include <atomic>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>

#include "net/io_executor.hpp"
#include "net/spawn.hpp"
#include "net/timer_wait.hpp"
#include "net/tls.hpp"
#include "pggat/duration.hpp"
#include "pool/server_reset.hpp"

namespace pggat::pool {

using Clock = std::chrono::steady_clock;

struct RecipeState {
  std::string name;
  Recipe recipe;
  backend::DialOptions dial;
  std::uint32_t open = 0;     // connected: idle, lent or being reset
  std::uint32_t dialing = 0;  // connections being made
  std::chrono::nanoseconds backoff{0};
  Clock::time_point retry_at{};
  std::string last_error;
  bool removed = false;
  RecipeHealth health;
  std::uint64_t lends = 0;    // servers handed to clients
  std::uint32_t lent = 0;     // of them, those a client holds now
  std::uint64_t replays = 0;  // units moved to the primary

  // SCRAM pass-through before any client proved the secret: nothing to dial with.
  [[nodiscard]] bool awaiting_keys() const {
    return auth::is_scram_secret(dial.password) && !dial.scram_keys;
  }
  [[nodiscard]] bool has_capacity() const {
    return recipe.max_connections == 0 || open + dialing < recipe.max_connections;
  }
  [[nodiscard]] bool in_rotation() const { return health.in_rotation; }
  [[nodiscard]] std::int64_t cost() const { return recipe_cost(recipe.priority, health.penalty); }
};

struct ServerPool::Waiter {
  Waiter(const net::IoExecutor& ex, std::shared_ptr<ClientShare> s) : timer(ex), share(std::move(s)) {}
  // Bound to the client's io_context itself: telling whether a server is on
  // the waiter's thread, and waking it there, compare and call no
  // type-erased executor.
  net::SteadyTimer timer;
  Clock::time_point since = Clock::now();
  std::shared_ptr<ClientShare> share;
  // Set under the pool's lock; read without it once, to skip a wait that
  // would only be cancelled.
  std::atomic<bool> done{false};
  std::uint32_t passed_over = 0;  // times a waiter on the server's thread went first
  ServerHandle server;
  std::optional<PgError> error;
};

ServerPool::ServerPool(ServerPoolOptions options) : options_(std::move(options)) {}

ServerPool::~ServerPool() = default;

void ServerPool::add_recipe(std::string name, Recipe recipe) {
  changed();
  auto address = net::parse_address(recipe.address);
  if (!address) throw std::invalid_argument("recipe \"" + name + "\": " + address.error());
  auto state = std::make_shared<RecipeState>();
  state->name = name;
  state->dial.address = *address;
  state->dial.username = recipe.username;
  state->dial.password = recipe.password;
  state->dial.database = recipe.database;
  state->dial.parameters = recipe.parameters;
  state->dial.connect_timeout = recipe.connect_timeout;
  state->dial.ssl_mode = recipe.ssl_mode;
  if (recipe.ssl_mode != SslMode::disable) {
    auto tls = net::TlsClientContext::create(recipe.ssl, recipe.ssl_mode);
    if (!tls) throw std::invalid_argument("recipe \"" + name + "\": " + tls.error());
    state->dial.tls = std::move(*tls);
  }
  state->recipe = std::move(recipe);
  std::lock_guard lock(mu_);
  for (auto& r : recipes_) {
    if (r->name == name && !r->removed) r->removed = true;
  }
  std::erase_if(idle_, [&](const ServerHandle& s) {
    if (!s->recipe->removed) return false;
    --stats_.servers_idle;
    discard_locked(s);
    return true;
  });
  recipes_.push_back(std::move(state));
  if (started_ && !stopped_) run_janitor_locked();
}

void ServerPool::offer_scram_keys(std::string_view secret, const auth::ScramKeys& keys) {
  std::lock_guard lock(mu_);
  bool unblocked = false;
  for (auto& r : recipes_) {
    if (r->removed || r->dial.password != secret || r->dial.scram_keys == keys) continue;
    unblocked = unblocked || !r->dial.scram_keys;
    r->dial.scram_keys = keys;
  }
  if (unblocked && started_ && !stopped_) run_janitor_locked();
}

void ServerPool::remove_recipe(std::string_view name) {
  std::lock_guard lock(mu_);
  changed();
  for (auto& r : recipes_)
    if (r->name == name) r->removed = true;
  std::erase_if(idle_, [&](const ServerHandle& s) {
    if (!s->recipe->removed) return false;
    --stats_.servers_idle;
    discard_locked(s);
    return true;
  });
  std::erase_if(recipes_, [](const auto& r) { return r->removed && r->open == 0 && r->dialing == 0; });
}

void ServerPool::start(const Context& context) {
  std::lock_guard lock(mu_);
  if (started_) return;
  context_ = context;
  home_.emplace(net::io_executor(context_.executor));
  started_ = true;
  janitor_.emplace(context_.executor);
  schedule_janitor();
  run_janitor_locked();
}

void ServerPool::stop() {
  std::lock_guard lock(mu_);
  if (stopped_) return;
  changed();
  stopped_ = true;
  // Destroyed now, not with the pool: an embedder may drop its io_context
  // before the last reference to the pool, and a timer must not outlive it.
  janitor_.reset();
  while (!waiters_.empty())
    finish_waiter_locked(waiters_.front(), nullptr,
                         PgError::fatal(sqlstate::admin_shutdown, "pggat is shutting down"));
  for (auto& s : idle_) {
    --stats_.servers_idle;
    s->connection->close();
    --s->recipe->open;
    std::erase(open_, s.get());
  }
  idle_.clear();
  // A reset may run for as long as its timeout: closing the server ends it
  // now (reset_task then closes and counts it), so the backend does not
  // outlive the pool on a host that stops its loop right after. On the
  // pool's executor, where reset_task uses the socket.
  for (auto& s : resetting_)
    asio::post(context_.executor, [s] { s->connection->close(); });
}

void ServerPool::pause() {
  std::lock_guard lock(mu_);
  if (paused_ || stopped_) return;
  changed();
  paused_ = true;
  for (auto& s : idle_) {
    --stats_.servers_idle;
    discard_locked(s);
  }
  idle_.clear();
  if (context_.log) context_.log->info("pool \"{}\": paused", display_name_locked());
}

void ServerPool::resume() {
  std::lock_guard lock(mu_);
  if (!paused_) return;
  changed();
  paused_ = false;
  if (context_.log)
    context_.log->info("pool \"{}\": resumed, {} clients waiting", display_name_locked(), waiters_.size());
  if (started_ && !stopped_) run_janitor_locked();
}

std::string ServerPool::display_name() const {
  std::lock_guard lock(mu_);
  return display_name_locked();
}

std::string ServerPool::display_name_locked() const {
  if (!options_.name.empty()) return options_.name;
  for (const auto& r : recipes_)
    if (!r->removed)
      return r->recipe.username + "@" + r->dial.address.to_string() + "/" + r->recipe.database;
  return "(no servers)";
}

asio::awaitable<Expected<ServerHandle, PgError>> ServerPool::acquire(
    std::chrono::nanoseconds timeout, std::shared_ptr<ClientShare> share) {
  // Found once per wait, off the path try_acquire serves.
  const net::IoExecutor executor = net::io_executor(co_await asio::this_coro::executor);
  std::shared_ptr<Waiter> w;  // made only when the client has to wait
  for (;;) {
    ServerHandle server;
    std::chrono::nanoseconds check_limit{0};
    bool lent = false;
    bool peek = false;
    {
      std::lock_guard lock(mu_);
      if (stopped_)
        co_return Unexpected(PgError::fatal(sqlstate::admin_shutdown, "pggat is shutting down"));
      // Nothing to wait for: a recipe comes back only with the next check.
      if (auto reason = no_rotation_locked())
        co_return Unexpected(PgError::fatal(sqlstate::connection_failure, std::move(*reason)));
      server = take_idle_locked(executor);
      if (!server) {
        w = std::make_shared<Waiter>(executor, share);
        waiters_.push_back(w);
        ++stats_.clients_waiting;
        fill_waiters_locked();
        if (!w->done) {
          const auto limit = timeout > std::chrono::nanoseconds::zero()
                                 ? std::chrono::duration_cast<Clock::duration>(timeout)
                                 : Clock::duration(std::chrono::hours(24 * 365));
          w->timer.expires_after(limit);
        }
        break;
      }
      const auto now = Clock::now();
      peek = needs_peek(server->idle_since, now);
      if (!needs_check(server->idle_since, now, options_.check_delay)) {
        lend_locked(*server, share, now);
        lent = true;
      } else {
        check_limit = check_timeout(server->recipe->dial.connect_timeout);
      }
    }
    if (peek && !open_after_idle(server, lent)) continue;
    // Its I/O completes on the client's thread from now on (the check's too).
    server->connection->conn.stream.move_to(executor);
    if (lent) co_return server;
    // Outside the lock: a round trip to a server that may not answer.
    const bool healthy = co_await check_server(*server->connection, check_limit);
    const bool cancelled =
        (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none;
    std::lock_guard lock(mu_);
    if (healthy && !server->recipe->in_rotation()) {
      // Its recipe left rotation during the check.
      discard_active_locked(std::move(server));
    } else if (healthy) {
      lend_locked(*server, share, Clock::now());
      if (!cancelled && !stopped_) co_return server;
      // The caller is gone (it would drop the server) or pggat is stopping.
      release_locked(std::move(server));
    } else {
      if (context_.log && !cancelled)
        context_.log->info("pool \"{}\": idle server #{} failed its check and was closed",
                           display_name_locked(), server->connection->id);
      discard_active_locked(std::move(server));
    }
    if (cancelled)
      co_return Unexpected(PgError::fatal(sqlstate::connection_failure, "client went away"));
  }
  std::error_code wait_ec;
  if (!w->done) co_await net::wait(w->timer, wait_ec);

  const bool cancelled =
      (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none;
  std::lock_guard lock(mu_);
  if (w->done) {
    if (w->server && cancelled) {
      // Our caller gave up while the server was on its way: take it back.
      release_locked(std::move(w->server));
      co_return Unexpected(PgError::fatal(sqlstate::connection_failure, "client went away"));
    }
    if (w->server) {
      w->server->connection->conn.stream.move_to(executor);
      co_return std::move(w->server);
    }
    co_return Unexpected(std::move(*w->error));
  }
  const std::uint64_t waiting = waiters_.size();  // this client included
  remove_waiter_locked(*w);
  --stats_.clients_waiting;
  if (cancelled || wait_ec == asio::error::operation_aborted)
    co_return Unexpected(PgError::fatal(sqlstate::connection_failure, "client went away"));
  ++stats_.acquire_timeouts;
  co_return Unexpected(PgError::fatal(
      sqlstate::insufficient_resources,
      acquire_timeout_message(timeout, display_name_locked(),
                              stats_.servers_active + stats_.servers_resetting, waiting)));
}

ServerHandle ServerPool::try_acquire(const net::IoExecutor& executor,
                                     const std::shared_ptr<ClientShare>& share) {
  for (;;) {
    ServerHandle server;
    bool peek = false;
    {
      std::lock_guard lock(mu_);
      if (stopped_ || paused_ || idle_.empty() || no_rotation_locked()) return nullptr;
      server = take_idle_locked(executor);
      if (!server) return nullptr;
      const auto now = Clock::now();
      if (needs_check(server->idle_since, now, options_.check_delay)) {
        // Back on the stack: acquire() takes it again and checks it.
        --stats_.servers_active;
        ++stats_.servers_idle;
        idle_.push_back(std::move(server));
        return nullptr;
      }
      lend_locked(*server, share, now);
      peek = needs_peek(server->idle_since, now);
    }
    if (peek && !open_after_idle(server, true)) continue;
    server->connection->conn.stream.move_to(executor);
    return server;
  }
}

ServerHandle ServerPool::take_idle_locked(const net::IoExecutor& prefer) {
  if (idle_.empty()) return nullptr;
  std::size_t at = idle_.size() - 1;
  // One recipe (the common case) needs no scan: its idle servers are all in
  // rotation, since set_health closes them when it leaves. Among the few most
  // recently used, one already on the client's thread saves moving it.
  if (recipes_.size() <= 1) {
    const std::size_t look = std::min(idle_.size(), prefer_same_thread_depth);
    for (std::size_t i = 0; i < look; ++i) {
      const std::size_t j = idle_.size() - 1 - i;
      if (idle_[j]->connection->conn.stream.get_executor() == prefer) {
        at = j;
        break;
      }
    }
  } else {
    const auto best = idle_to_lend(idle_, [](const ServerHandle& h) -> std::optional<RecipeRank> {
      if (!h->recipe->in_rotation()) return std::nullopt;
      return RecipeRank{.cost = h->recipe->cost(), .load = h->recipe->lent};
    });
    if (!best) return nullptr;
    at = *best;
  }
  ServerHandle s = std::move(idle_[at]);
  idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(at));
  --stats_.servers_idle;
  ++stats_.servers_active;
  return s;
}

// An idle server that spoke or closed: PostgreSQL does that only when the
// backend is going away (a FATAL before the close). Looked at when a server
// idle for peek_after or more is lent, and by the janitor, rather than
// watched: a watch per idle period cost more than a whole short transaction.
bool ServerPool::closed_while_idle_locked(const PooledServer& server) const {
  if (!server.connection->conn.stream.input_pending()) return false;
  log_closed_while_idle_locked(server);
  return true;
}

void ServerPool::log_closed_while_idle_locked(const PooledServer& server) const {
  if (context_.log)
    context_.log->info("pool \"{}\": idle server #{} closed by the server", display_name_locked(),
                       server.connection->id);
}

bool ServerPool::open_after_idle(ServerHandle& server, bool lent) {
  if (!server->connection->conn.stream.input_pending()) return true;
  std::lock_guard lock(mu_);
  log_closed_while_idle_locked(*server);
  if (lent) {
    // Not a loan after all: acquires and lends count the one that follows
    // (the acquire-time histogram keeps its sample).
    --stats_.acquires;
    --server->recipe->lends;
  }
  discard_active_locked(std::move(server));
  return false;
}

void ServerPool::lend_locked(PooledServer& server, std::shared_ptr<ClientShare> share,
                             Clock::time_point now, std::optional<Clock::time_point> waiting_since) {
  server.holder = std::move(share);
  server.lent_at = now;
  server.lent = true;
  ++server.recipe->lent;
  stats_.acquire_time.observe(waiting_since ? server.lent_at - *waiting_since : Clock::duration{});
  ++stats_.acquires;
  ++server.recipe->lends;
}

void ServerPool::end_loan_locked(PooledServer& server, Clock::time_point now) {
  if (!server.lent) return;
  server.lent = false;
  --server.recipe->lent;
  if (server.holder) server.holder->held += now - server.lent_at;
  server.holder.reset();
}

void ServerPool::release(ServerHandle server) {
  std::lock_guard lock(mu_);
  release_locked(std::move(server));
}

void ServerPool::release_locked(ServerHandle server) {
  const auto now = Clock::now();
  end_loan_locked(*server, now);
  --stats_.servers_active;
  backend::ServerConnection& c = *server->connection;
  if (stopped_ || c.torn || server->recipe->removed || !c.conn.stream.is_open()) {
    discard_locked(std::move(server));
    return;
  }
  if (paused_) {
    close_busy_locked(std::move(server));
    return;
  }
  if (!server->recipe->in_rotation()) {
    close_busy_locked(std::move(server));
    return;
  }
  if (past_lifetime(server->created_at, now, options_.lifetime)) {
    if (context_.log)
      context_.log->debug("pool \"{}\": server #{} reached server_lifetime and was closed",
                          display_name_locked(), c.id);
    close_busy_locked(std::move(server));
    return;
  }
  if (c.state.idle() && options_.reset_query.empty() && c.conn.in.empty()) {
    hand_over_locked(std::move(server), now);
    return;
  }
  ++stats_.servers_resetting;
  bring_home(*server);
  server->resetting = true;
  server->idle_since = now;  // SHOW SERVERS: since when it is being cleaned
  resetting_.push_back(server);
  net::spawn(context_.executor, reset_task(shared_from_this(), std::move(server)), context_.log, "server reset");
}

void ServerPool::bring_home(PooledServer& server) const {
  server.connection->conn.stream.move_to(home_.value());
}

void ServerPool::discard(ServerHandle server) {
  std::lock_guard lock(mu_);
  discard_active_locked(std::move(server));
}

void ServerPool::discard_active_locked(ServerHandle server) {
  end_loan_locked(*server, Clock::now());  // nothing to end for one not lent
  --stats_.servers_active;
  discard_locked(std::move(server));
}

PoolStats ServerPool::stats() const {
  std::lock_guard lock(mu_);
  PoolStats s = stats_;
  s.paused = paused_;
  // The first in line has waited longest: waiters queue in arrival order.
  if (!waiters_.empty()) s.longest_wait = Clock::now() - waiters_.front()->since;
  return s;
}

std::uint64_t ServerPool::idle_count() const {
  std::lock_guard lock(mu_);
  return stats_.servers_idle;
}

std::vector<ServerStats> ServerPool::server_stats() const {
  std::lock_guard lock(mu_);
  // Steady-clock times shown as wall-clock ones, by their distance from now.
  const auto now = Clock::now();
  const auto wall_now = std::chrono::system_clock::now();
  const auto wall = [&](Clock::time_point t) {
    return wall_now - std::chrono::duration_cast<std::chrono::system_clock::duration>(now - t);
  };
  std::vector<ServerStats> out;
  for (const PooledServer* s : open_) {
    ServerStats r;
    r.id = s->connection->id;
    r.recipe = s->recipe->name;
    r.address = s->connection->address.to_string();
    r.username = s->recipe->recipe.username;
    r.database = s->recipe->recipe.database;
    r.connected_at = wall(s->created_at);
    r.backend_pid = static_cast<std::int32_t>(s->connection->key.process_id);
    if (s->resetting) {
      r.state = ServerStats::State::resetting;
      r.state_since = wall(s->idle_since);
    } else if (std::any_of(idle_.begin(), idle_.end(), [&](const ServerHandle& h) { return h.get() == s; })) {
      r.state = ServerStats::State::idle;
      r.state_since = wall(s->idle_since);
    } else {
      r.state = ServerStats::State::active;
      r.state_since = wall(s->lent_at);
      r.client_id = s->holder ? s->holder->client_id : 0;
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<RecipeStats> ServerPool::recipe_stats() const {
  std::lock_guard lock(mu_);
  std::vector<RecipeStats> out;
  for (const auto& r : recipes_) {
    if (r->removed) continue;
    RecipeStats s;
    s.name = r->name;
    s.address = r->dial.address.to_string();
    s.username = r->recipe.username;
    s.database = r->recipe.database;
    s.min_connections = r->recipe.min_connections;
    s.max_connections = r->recipe.max_connections;
    s.servers_open = r->open;
    s.servers_idle = static_cast<std::uint64_t>(
        std::count_if(idle_.begin(), idle_.end(), [&](const ServerHandle& h) { return h->recipe == r; }));
    s.transactions = r->lends;
    s.replays_to_primary = r->replays;
    s.in_rotation = r->health.in_rotation;
    s.penalty = r->health.penalty;
    s.replication_lag = r->health.lag;
    s.replay_lsn = r->health.replay_lsn;
    s.problem = !r->health.problem.empty() ? r->health.problem : r->last_error;
    out.push_back(std::move(s));
  }
  return out;
}

void ServerPool::set_health(std::string_view recipe, const RecipeHealth& health) {
  std::lock_guard lock(mu_);
  changed();
  // Found first: discarding below may erase other (removed) recipes.
  const auto it = std::find_if(recipes_.begin(), recipes_.end(),
                               [&](const auto& r) { return !r->removed && r->name == recipe; });
  if (it == recipes_.end()) return;
  const std::shared_ptr<RecipeState> r = *it;
  const bool was_in = r->health.in_rotation;
  const std::uint64_t lsn = std::max(r->health.replay_lsn, health.replay_lsn);
  r->health = health;
  r->health.replay_lsn = lsn;
  if (was_in == health.in_rotation || !started_ || stopped_) return;
  if (!health.in_rotation) {
    // Its idle servers would be lent to no one; lent ones close when returned.
    std::erase_if(idle_, [&](const ServerHandle& s) {
      if (s->recipe != r) return false;
      --stats_.servers_idle;
      discard_locked(s);
      return true;
    });
    fill_waiters_locked();  // fails the waiters if it was the last one in rotation
    return;
  }
  run_janitor_locked();  // its min_connections, and waiters it can serve
}

std::optional<std::string> ServerPool::no_rotation_locked() const {
  bool any = false;  // no recipes at all: fill_waiters_locked says so
  for (const auto& r : recipes_) {
    if (r->removed) continue;
    if (r->in_rotation()) return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> problems;
  for (const auto& r : recipes_)
    if (!r->removed) problems.emplace_back(r->name, r->health.problem);
  return no_rotation_message(display_name_locked(), problems);
}

bool ServerPool::has_recipe_in_rotation() const {
  std::lock_guard lock(mu_);
  return std::any_of(recipes_.begin(), recipes_.end(),
                     [](const auto& r) { return !r->removed && r->health.in_rotation; });
}

std::vector<RecipeTarget> ServerPool::recipe_targets() const {
  std::lock_guard lock(mu_);
  std::vector<RecipeTarget> out;
  for (const auto& r : recipes_)
    if (!r->removed) out.push_back(RecipeTarget{r->name, r->dial});
  return out;
}

std::optional<RecipeTarget> ServerPool::recipe_target(std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const auto& r : recipes_)
    if (!r->removed && r->name == name) return RecipeTarget{r->name, r->dial};
  return std::nullopt;
}

void ServerPool::note_replay(const PooledServer& server) {
  std::lock_guard lock(mu_);
  ++server.recipe->replays;
}

std::uint64_t ServerPool::known_replay_lsn(const PooledServer& server) const {
  std::lock_guard lock(mu_);
  return server.recipe->health.replay_lsn;
}

void ServerPool::note_replay_lsn(const PooledServer& server, std::uint64_t lsn) {
  std::lock_guard lock(mu_);
  server.recipe->health.replay_lsn = std::max(server.recipe->health.replay_lsn, lsn);
}

void ServerPool::discard_locked(ServerHandle server) {
  changed();
  server->connection->close();
  --server->recipe->open;
  std::erase(open_, server.get());
  ++stats_.servers_discarded;
  std::erase_if(recipes_, [](const auto& r) { return r->removed && r->open == 0 && r->dialing == 0; });
  fill_waiters_locked();
}

// Waiters leave mostly from the front (FIFO, or the first on a server's
// thread): found from there and erased alone, not by a pass over them all.
void ServerPool::remove_waiter_locked(const Waiter& w) {
  const auto it = std::find_if(waiters_.begin(), waiters_.end(),
                               [&](const std::shared_ptr<Waiter>& x) { return x.get() == &w; });
  if (it != waiters_.end()) waiters_.erase(it);
}

// `w` is taken by value: callers pass waiters_.front(), and a reference to it
// would name the next waiter once the erase below has shifted the deque.
void ServerPool::finish_waiter_locked(std::shared_ptr<Waiter> w, ServerHandle server,
                                      std::optional<PgError> error) {
  remove_waiter_locked(*w);
  --stats_.clients_waiting;
  w->done = true;
  w->server = std::move(server);
  w->error = std::move(error);
  // A timer is touched only on its io_context's thread. On this one (one
  // thread, or a server handed to a waiter of its own thread) the cancel is
  // made here: the waiter resumes through the one completion it queues, with
  // no function posted (an allocation and a second pass of the scheduler).
  if (w->timer.get_executor().running_in_this_thread()) {
    w->timer.cancel();
    return;
  }
  asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

void ServerPool::hand_over_locked(ServerHandle server, Clock::time_point now) {
  // Dialed or cleaned while its recipe left rotation, or the pool paused.
  if (!server->recipe->in_rotation() || paused_) {
    discard_locked(std::move(server));
    return;
  }
  server->connection->state.reset();
  if (!waiters_.empty()) {
    const std::size_t due = next_waiter(options_.pooler, waiters_, [](const auto& w) {
      return w->share ? w->share->held : std::chrono::nanoseconds(0);
    });
    const auto home = server->connection->conn.stream.get_executor();
    const std::size_t next = nearby_waiter(
        waiters_, due, [&](const auto& w) { return w->timer.get_executor() == home; },
        [](const auto& w) { return w->passed_over; }, nearby_waiter_window, nearby_waiter_max_passes);
    if (next != due) ++waiters_[due]->passed_over;
    ++stats_.servers_active;
    lend_locked(*server, waiters_[next]->share, now, waiters_[next]->since);
    finish_waiter_locked(waiters_[next], std::move(server), std::nullopt);
    return;
  }
  make_idle_locked(std::move(server), now);
}

void ServerPool::make_idle_locked(ServerHandle server, Clock::time_point now) {
  server->idle_since = now;
  server->connection->conn.in.release_if_empty();
  ++stats_.servers_idle;
  idle_.push_back(std::move(server));
}

void ServerPool::fill_waiters_locked() {
  // Paused: waiters wait for resume() (or their timeout).
  if (stopped_ || !started_ || paused_ || waiters_.empty()) return;
  if (auto reason = no_rotation_locked()) {
    while (!waiters_.empty())
      finish_waiter_locked(waiters_.front(), nullptr,
                           PgError::fatal(sqlstate::connection_failure, *reason));
    return;
  }
  std::uint32_t dialing = 0;
  for (const auto& r : recipes_) dialing += r->dialing;
  const auto now = Clock::now();
  auto rank = [now](const std::shared_ptr<RecipeState>& r) -> std::optional<RecipeRank> {
    if (r->removed || !r->in_rotation() || !r->has_capacity() || r->retry_at > now ||
        r->awaiting_keys())
      return std::nullopt;
    return RecipeRank{.cost = r->cost(), .load = std::uint64_t{r->open} + r->dialing};
  };
  while (dialing < waiters_.size()) {
    const auto best = recipe_to_dial(recipes_, rank);
    if (!best) break;
    dial_locked(recipes_[*best]);
    ++dialing;
  }
  if (dialing > 0 || stats_.servers_active > 0 || stats_.servers_resetting > 0) return;

  // Nothing is being dialed and nothing will be returned: say why now rather
  // than let the clients wait out their timeout.
  std::string reason;
  bool dials_failed = false;
  for (const auto& r : recipes_) {
    if (!r->removed && r->awaiting_keys()) {
      reason = "the recipe's password is a SCRAM secret, and no client has proved it yet "
               "(SCRAM pass-through)";
      break;
    }
    if (r->removed || !r->in_rotation() || r->last_error.empty()) continue;
    const auto wait = std::chrono::duration_cast<std::chrono::seconds>(r->retry_at - now);
    reason = r->last_error + " (next attempt in " +
             format_duration(std::max(wait, std::chrono::seconds(1))) + ")";
    dials_failed = true;
    break;
  }
  if (reason.empty()) {
    bool any = std::any_of(recipes_.begin(), recipes_.end(), [](const auto& r) { return !r->removed; });
    if (any) return;  // at capacity with nothing lent cannot happen; keep waiting
    reason = "pool \"" + display_name_locked() + "\" has no servers configured";
  }
  if (dials_failed && options_.connect_retry_window.count() > 0) {
    // Held for the next attempt (the janitor dials it when due); those that
    // have waited out the window get the reason.
    const auto window = std::chrono::duration_cast<Clock::duration>(options_.connect_retry_window);
    for (std::size_t i = 0; i < waiters_.size();) {
      if (now - waiters_[i]->since < window) {
        ++i;
        continue;
      }
      finish_waiter_locked(waiters_[i], nullptr,
                           PgError::fatal(sqlstate::connection_failure,
                                          reason + "; gave up after server_connect_retry_window " +
                                              format_duration(options_.connect_retry_window)));
    }
    return;
  }
  while (!waiters_.empty())
    finish_waiter_locked(waiters_.front(), nullptr,
                         PgError::fatal(sqlstate::connection_failure, reason));
}

void ServerPool::dial_locked(const std::shared_ptr<RecipeState>& recipe) {
  ++recipe->dialing;
  ++stats_.servers_connecting;
  net::spawn(context_.executor, dial_task(shared_from_this(), recipe), context_.log, "server dial");
}

asio::awaitable<void> ServerPool::dial_task([[maybe_unused]] std::shared_ptr<ServerPool> self, std::shared_ptr<RecipeState> recipe) {
  backend::DialOptions options;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    options = recipe->dial;
    id = next_server_id_++;
  }
  auto result = co_await backend::dial(options, id);

  std::lock_guard lock(mu_);
  --recipe->dialing;
  --stats_.servers_connecting;
  if (!result) {
    ++stats_.connect_failures;
    const auto initial = options_.reconnect_initial;
    auto next = recipe->backoff.count() == 0 ? initial : recipe->backoff * 2;
    if (options_.reconnect_max.count() > 0) next = std::min(next, options_.reconnect_max);
    recipe->backoff = next;
    recipe->retry_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(next);
    recipe->last_error = result.error().message;
    if (context_.log)
      context_.log->warn("pool \"{}\": {} (next attempt in {})", display_name_locked(),
                         recipe->last_error, format_duration(next));
    // The client this dial was for learns why, unless a retry window holds
    // it (fill_waiters_locked fails those that waited it out).
    if (!waiters_.empty() && !stopped_ && options_.connect_retry_window.count() == 0)
      finish_waiter_locked(waiters_.front(), nullptr,
                           PgError::fatal(sqlstate::connection_failure, recipe->last_error));
    fill_waiters_locked();
    co_return;
  }
  recipe->backoff = std::chrono::nanoseconds(0);
  recipe->retry_at = {};
  recipe->last_error.clear();
  if (stopped_ || recipe->removed) {
    (*result)->close();
    std::erase_if(recipes_, [](const auto& r) { return r->removed && r->open == 0 && r->dialing == 0; });
    co_return;
  }
  ++recipe->open;
  auto server = std::make_shared<PooledServer>();
  server->connection = std::move(*result);
  server->connection->parameter_changes = changes_;
  changed();
  server->recipe = recipe;
  const auto now = Clock::now();
  server->created_at = now;
  open_.push_back(server.get());
  if (context_.log)
    context_.log->debug("pool \"{}\": connected server #{} ({})", display_name_locked(), id,
                        options.address.to_string());
  hand_over_locked(std::move(server), now);
}

asio::awaitable<void> ServerPool::reset_task([[maybe_unused]] std::shared_ptr<ServerPool> self, ServerHandle server) {
  const bool ok =
      co_await reset_server(*server->connection, options_.reset_query, options_.reset_timeout);
  std::lock_guard lock(mu_);
  --stats_.servers_resetting;
  std::erase(resetting_, server);
  server->resetting = false;
  if (!ok || stopped_ || server->recipe->removed) {
    if (!ok && context_.log)
      context_.log->info("pool \"{}\": server #{} could not be reset and was closed",
                         display_name_locked(), server->connection->id);
    close_busy_locked(std::move(server));
    co_return;
  }
  hand_over_locked(std::move(server), Clock::now());
}

void ServerPool::close_busy_locked(ServerHandle server) {
  backend::ServerConnection& c = *server->connection;
  // A backend still busy (a long query, a slow reset) would run on after we
  // hang up; a cancel stops it and frees its slot on the server.
  if (c.state.pending_ready() > 0)
    net::spawn(context_.executor, backend::send_cancel(c.address, c.key, std::chrono::seconds(5)),
               context_.log, "cancel on discard");
  discard_locked(std::move(server));
}

void ServerPool::schedule_janitor() {
  janitor_->expires_after(std::chrono::duration_cast<Clock::duration>(options_.janitor_period));
  janitor_->async_wait([weak = weak_from_this()](std::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self) return;
    std::lock_guard lock(self->mu_);
    if (self->stopped_) return;
    self->run_janitor_locked();
    self->schedule_janitor();
  });
}

void ServerPool::run_janitor_locked() {
  const auto now = Clock::now();
  // Oldest first: the stack's bottom has been idle longest. Servers past their
  // lifetime go whatever min_connections says; the loop below dials anew.
  std::erase_if(idle_, [&](const ServerHandle& s) {
    const bool unused = options_.idle_timeout.count() > 0 &&
                        now - s->idle_since >= options_.idle_timeout &&
                        s->recipe->open > s->recipe->recipe.min_connections;
    if (!unused && !past_lifetime(s->created_at, now, options_.lifetime) && !closed_while_idle_locked(*s))
      return false;
    --stats_.servers_idle;
    discard_locked(s);
    return true;
  });
  for (const auto& r : recipes_) {
    while (!paused_ && !r->removed && r->in_rotation() &&
           r->open + r->dialing < r->recipe.min_connections && r->retry_at <= now &&
           r->has_capacity() && !r->awaiting_keys())
      dial_locked(r);
  }
  fill_waiters_locked();
}

std::string no_rotation_message(const std::string& pool,
                                const std::vector<std::pair<std::string, std::string>>& problems) {
  std::string out = "no server is in rotation in pool \"" + pool + "\"";
  char sep = ':';
  for (const auto& p : problems) {
    out += sep;
    out += " " + p.first + ": " + (p.second.empty() ? "out of rotation" : p.second);
    sep = ';';
  }
  return out;
}

std::string acquire_timeout_message(std::chrono::nanoseconds timeout, const std::string& pool,
                                    std::uint64_t busy, std::uint64_t waiting) {
  auto count = [](std::uint64_t n, std::string_view what) {
    return std::to_string(n) + " " + std::string(what) + (n == 1 ? "" : "s");
  };
  return "timed out after " + format_duration(timeout) +
         " waiting for a server connection in pool \"" + pool + "\" (" +
         count(busy, "server") + " busy, " + count(waiting, "client") +
         " waiting; see client_acquire_timeout and max_connections)";
}

}  // namespace pggat::pool
