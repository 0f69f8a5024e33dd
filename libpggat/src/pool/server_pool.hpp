// ServerPool: the server connections of one pool across its recipes — dialing, lending, idling.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "backend/server_connection.hpp"
#include "net/stream.hpp"
#include "pggat/context.hpp"
#include "pggat/expected.hpp"
#include "pggat/pg_error.hpp"
#include "pggat/pool.hpp"
#include "pggat/recipe.hpp"
#include "pool/server_policy.hpp"
#include "pool/transaction_state.hpp"

namespace pggat::pool {

struct ServerPoolOptions {
  std::string name;  // for logs and errors
  PoolerKind pooler = PoolerKind::lifo;  // which waiter a freed server goes to
  std::string reset_query;
  std::chrono::nanoseconds reset_timeout = std::chrono::seconds(15);
  std::chrono::nanoseconds idle_timeout = std::chrono::minutes(5);  // 0: never
  std::chrono::nanoseconds lifetime = std::chrono::hours(1);        // 0: unlimited
  std::chrono::nanoseconds check_delay = std::chrono::seconds(30);  // 0: always check
  std::chrono::nanoseconds reconnect_initial = std::chrono::seconds(5);
  std::chrono::nanoseconds reconnect_max = std::chrono::minutes(1);
  std::chrono::nanoseconds janitor_period = std::chrono::seconds(1);
  // When every recipe fails to dial, clients keep waiting this long for a
  // later attempt instead of failing at once (a switchover). 0: fail at once.
  std::chrono::nanoseconds connect_retry_window{0};
};

class ServerPool;
struct RecipeState;

// A recipe as the health monitor dials it.
struct RecipeTarget {
  std::string name;
  backend::DialOptions dial;
};

// A server while it belongs to this pool.
struct PooledServer {
  std::unique_ptr<backend::ServerConnection> connection;
  std::shared_ptr<RecipeState> recipe;
  std::chrono::steady_clock::time_point created_at;  // for server_lifetime
  std::chrono::steady_clock::time_point idle_since;  // for idle timeout and check delay
  TransactionServer transaction;       // used by transaction pooling only
  // The client holding it and since when: its share is charged on return.
  std::shared_ptr<ClientShare> holder;
  std::chrono::steady_clock::time_point lent_at;
  bool lent = false;       // between lend_locked and end_loan_locked
  bool resetting = false;  // in reset_task
};
using ServerHandle = std::shared_ptr<PooledServer>;

class ServerPool : public std::enable_shared_from_this<ServerPool> {
 public:
  explicit ServerPool(ServerPoolOptions options);
  ~ServerPool();

  void add_recipe(std::string name, Recipe recipe);
  void remove_recipe(std::string_view name);
  // A client proved `secret`: recipes whose password is that SCRAM secret log
  // in with its keys from now on (SCRAM pass-through).
  void offer_scram_keys(std::string_view secret, const auth::ScramKeys& keys);

  void start(const Context& context);
  // Fails waiting clients, closes idle servers; lent servers close when returned.
  void stop();

  // A server for one client. Waits up to `timeout` (0: forever) for one to be
  // free or dialed. A failed dial fails the waiting client with FATAL 08006
  // naming the server and the reason. An idle server unused for longer than
  // check_delay is checked first; one that fails is closed and the next tried.
  // `share` is the client's account for the rob pooler: the time it holds the
  // server is added to it on release or discard. Without one the client
  // counts as having held nothing.
  [[nodiscard]] asio::awaitable<Expected<ServerHandle, PgError>> acquire(
      std::chrono::nanoseconds timeout, std::shared_ptr<ClientShare> share = nullptr);

  // acquire() without waiting, without a coroutine frame: an idle server that
  // needs no check, lent to `share` and moved to `executor`, or nullptr, and
  // then acquire() does the rest (waiting, dialing, checking, failing).
  [[nodiscard]] ServerHandle try_acquire(const net::IoExecutor& executor,
                                         const std::shared_ptr<ClientShare>& share);

  // Gives a server back: it is cleaned (see reset_server) in the background and
  // then lent again or kept idle; if it cannot be cleaned, or it is older than
  // the lifetime, it is closed.
  void release(ServerHandle server);
  // Closes a server that is known to be broken.
  void discard(ServerHandle server);

  // PAUSE: clients that ask for a server wait (up to their acquire timeout),
  // idle servers close now and lent ones when returned, nothing is dialed.
  // RESUME: waiting clients get servers again, dialed anew.
  void pause();
  void resume();

  // Counts what changed its servers, without the lock: a server dialled or
  // closed, a parameter one of them reported changed, health, a pause, a
  // resume, a stop, recipes. Equal counts: what a server told a client then
  // holds now (BasicPool's greetings without a server rely on it).
  [[nodiscard]] std::uint64_t changes() const { return changes_->load(std::memory_order_acquire); }

  [[nodiscard]] PoolStats stats() const;
  // stats().servers_idle, without copying the rest.
  [[nodiscard]] std::uint64_t idle_count() const;
  [[nodiscard]] std::vector<RecipeStats> recipe_stats() const;
  [[nodiscard]] std::vector<ServerStats> server_stats() const;

  // Health, set by the monitor. A recipe out of rotation is not dialed (nor
  // kept at min_connections), its idle servers close at once and lent ones
  // when returned. With every recipe out, acquire fails at once (FATAL 08006
  // naming each recipe's problem). Dialing and lending prefer the lowest
  // priority + penalty. Recipes never checked are in rotation.
  void set_health(std::string_view recipe, const RecipeHealth& health);
  [[nodiscard]] bool has_recipe_in_rotation() const;
  [[nodiscard]] std::vector<RecipeTarget> recipe_targets() const;
  [[nodiscard]] std::optional<RecipeTarget> recipe_target(std::string_view name) const;

  // A unit of work begun on `server` was replayed on the primary.
  void note_replay(const PooledServer& server);
  // The highest replay position known for `server`'s recipe; raised by
  // note_replay_lsn (a client's own check) and by the monitor.
  [[nodiscard]] std::uint64_t known_replay_lsn(const PooledServer& server) const;
  void note_replay_lsn(const PooledServer& server, std::uint64_t lsn);
  [[nodiscard]] const std::string& name() const { return options_.name; }
  // The name, or user@address/database of its first recipe when it has none.
  [[nodiscard]] std::string display_name() const;

 private:
  struct Waiter;

  // A server stays registered with the thread that used it last (idle ones
  // too: the next client there takes it without a move). The background
  // work on the pool's own executor moves it there first: a reset.
  void bring_home(PooledServer& server) const;
  void dial_locked(const std::shared_ptr<RecipeState>& recipe);
  void fill_waiters_locked();
  // Off the idle stack and counted active: the top-most of the cheapest
  // recipe in rotation. nullptr when none may be lent.
  ServerHandle take_idle_locked(const net::IoExecutor& prefer);
  // Whether an idle server spoke or closed (logged when so): one recv(MSG_PEEK).
  [[nodiscard]] bool closed_while_idle_locked(const PooledServer& server) const;
  void log_closed_while_idle_locked(const PooledServer& server) const;
  // Closes a server counted active (lent, or taken to be checked): its loan
  // ends, if it had one, and it leaves the active count.
  void discard_active_locked(ServerHandle server);
  // The same for a server take_idle_locked just gave (`lent` or not yet),
  // without the lock: the system call is not made holding it, which every
  // thread's clients take. A closed one is discarded, its loan undone; false then.
  [[nodiscard]] bool open_after_idle(ServerHandle& server, bool lent);
  // Why no client can be served: every recipe is out of rotation (nullopt
  // when one is in, or there are none).
  [[nodiscard]] std::optional<std::string> no_rotation_locked() const;
  // `now`: the caller's reading of the clock, taken once for all it does
  // under the lock. `waiting_since`: when the client began to wait (its wait
  // is counted); none for a client that got the server at once.
  void lend_locked(PooledServer& server, std::shared_ptr<ClientShare> share,
                   std::chrono::steady_clock::time_point now,
                   std::optional<std::chrono::steady_clock::time_point> waiting_since = std::nullopt);
  void end_loan_locked(PooledServer& server, std::chrono::steady_clock::time_point now);
  void release_locked(ServerHandle server);
  // Closes a server, cancelling first what it may still be running.
  void close_busy_locked(ServerHandle server);
  void hand_over_locked(ServerHandle server, std::chrono::steady_clock::time_point now);
  void make_idle_locked(ServerHandle server, std::chrono::steady_clock::time_point now);
  void discard_locked(ServerHandle server);
  void remove_waiter_locked(const Waiter& w);
  // By value: callers pass waiters_.front(), which this erases. A server
  // given here is lent to the waiter already.
  void finish_waiter_locked(std::shared_ptr<Waiter> w, ServerHandle server,
                            std::optional<PgError> error);
  void run_janitor_locked();
  void schedule_janitor();
  [[nodiscard]] std::string display_name_locked() const;

  // Background tasks hold `self` so the pool outlives them.
  asio::awaitable<void> dial_task(std::shared_ptr<ServerPool> self,
                                  std::shared_ptr<RecipeState> recipe);
  asio::awaitable<void> reset_task(std::shared_ptr<ServerPool> self, ServerHandle server);

  // How far down the idle stack take_idle_locked looks for a server already
  // on the client's thread.
  static constexpr std::size_t prefer_same_thread_depth = 4;
  // A freed server goes to a waiter on its own thread among the first few
  // waiters; the one due (FIFO or rob) is passed over at most this often.
  static constexpr std::size_t nearby_waiter_window = 8;
  static constexpr std::uint32_t nearby_waiter_max_passes = 8;

  void changed() { changes_->fetch_add(1, std::memory_order_release); }

  ServerPoolOptions options_;
  // Shared with the servers, which count their parameter changes into it.
  const std::shared_ptr<std::atomic<std::uint64_t>> changes_ = std::make_shared<std::atomic<std::uint64_t>>(0);
  mutable std::mutex mu_;
  Context context_;
  std::optional<net::IoExecutor> home_;  // context_.executor's io_context, found at start()
  bool started_ = false;
  bool stopped_ = false;
  bool paused_ = false;
  std::vector<std::shared_ptr<RecipeState>> recipes_;
  std::vector<ServerHandle> idle_;  // a stack: most recently used on top (lifo)
  std::vector<ServerHandle> resetting_;  // in reset_task: stop() cuts them short
  // Every connected server, idle, lent or being cleaned: SHOW SERVERS. In at
  // the dial, out when closed (discard_locked, stop()).
  std::vector<PooledServer*> open_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  std::optional<asio::steady_timer> janitor_;
  std::uint64_t next_server_id_ = 1;
  PoolStats stats_;
};

}  // namespace pggat::pool
