// The basic pool: acquire a server, pair it with the client, relay, give it back.
#include "pggat/basic_pool.hpp"
#include "pggat/hybrid_pool.hpp"

#include <sys/socket.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <span>
#include <stdexcept>
#include <type_traits>

#include "frontend/client_session.hpp"
#include "net/io_threads.hpp"
#include "net/spawn.hpp"
#include "pggat/proto/backend.hpp"
#include "pool/health_monitor.hpp"
#include "pool/hybrid_route.hpp"
#include "pool/parameter_sync.hpp"
#include "pool/parking_pool.hpp"
#include "pool/server_pool.hpp"
#include "pool/session_relay.hpp"
#include "pool/status_messages.hpp"
#include "pool/transaction_relay.hpp"

namespace pggat {

std::vector<std::string> BasicPoolOptions::default_tracked_parameters() {
  return {"client_encoding",   "DateStyle",        "TimeZone",   "standard_conforming_strings",
          "application_name",  "IntervalStyle",    "search_path"};
}

BasicPoolOptions BasicPoolOptions::session() { return BasicPoolOptions{}; }

BasicPoolOptions BasicPoolOptions::transaction() {
  BasicPoolOptions o;
  o.pooler = PoolerKind::rob;
  o.release_after_transaction = true;
  o.parameter_status_sync = ParameterStatusSync::dynamic;
  o.extended_query_sync = true;
  o.server_reset_query.clear();
  return o;
}

namespace {

// Completes when the client hangs up; never when it merely sends data (that
// stays buffered in the socket for the relay).
asio::awaitable<void> wait_for_hangup(detail::ClientSession& session) {
  net::Socket& socket = session.conn.stream.socket();
  auto [ec] = co_await socket.async_wait(net::Socket::wait_read, net::use_nothrow);
  if (ec == asio::error::operation_aborted) co_return;
  if (!ec && session.conn.in.empty()) {
    char probe = 0;
    const ssize_t n = ::recv(socket.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
      // Early data, not a hangup: stop watching until cancelled.
      asio::steady_timer forever(co_await asio::this_coro::executor,
                                 asio::steady_timer::time_point::max());
      co_await forever.async_wait(net::use_nothrow);
    }
  }
}

// The end of the startup reply, after the server's parameters: our key, ready.
constexpr std::size_t key_and_ready_size = 13 + 6;
void append_key_and_ready(detail::ClientSession& session) {
  proto::be::BackendKeyData{static_cast<std::int32_t>(session.key.process_id),
                            static_cast<std::int32_t>(session.key.secret_key)}
      .encode(session.conn.out);
  proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(session.conn.out);
}

// The rest of the startup reply: the server's parameters, our key, ready.
asio::awaitable<std::error_code> greet(detail::ClientSession& session, const Parameters& parameters) {
  for (const auto& [name, value] : parameters)
    proto::be::ParameterStatus{name, value}.encode(session.conn.out);
  append_key_and_ready(session);
  co_return co_await net::flush(session.conn);
}

// Waiting for a client's next message without a server. An idle client
// holds no buffers (16 KiB to receive, most of what a connection costs).
// Between transactions it waits with a read into a small buffer in the
// caller's frame (a coroutine per wait costs an allocation per transaction),
// and what came is copied into a receive buffer taken for it (a spare one,
// usually); a longer request reads on in the pump. A read rather than a
// wait for readiness: a message already there costs one recv, and one not
// there yet a recv that finds nothing and then epoll's report (Asio tries
// first); a wait re-arms the descriptor with epoll_ctl every time, and the
// read after it is a second system call.
void release_idle_buffers(detail::ClientSession& session) {
  session.conn.in.release_if_empty();
  if (session.conn.out.capacity() > 0) proto::Buffer().swap(session.conn.out);
}

// After the wait: false when the client left. Nothing read (a spurious
// wakeup) is not leaving.
bool read_idle_now(detail::ClientSession& session) {
  net::RecvBuffer& in = session.conn.in;
  const auto [ec, n] = session.conn.stream.read_now(in.prepare());
  if (!ec) {
    in.commit(n);
    return true;
  }
  in.release_if_empty();
  if (ec == asio::error::would_block) return true;
  session.left = true;  // end of file, or the connection broke
  return false;
}

// The small buffer an idle client's wait reads into: a simple query or an
// extended-protocol batch of a few statements fits.
constexpr std::size_t idle_read_size = 512;

// What an idle wait's read brought: kept in the receive buffer, or the
// client's end noted. False when the wait ended without a message.
bool keep_idle_read(detail::ClientSession& session, std::span<const std::byte> arrived, std::error_code ec) {
  if (!ec && !arrived.empty()) {
    net::RecvBuffer& in = session.conn.in;
    std::memcpy(in.prepare().data(), arrived.data(), arrived.size());
    in.commit(arrived.size());
    return true;
  }
  // End of file or a broken connection; not our own close or cancel.
  if (ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor) session.left = true;
  return false;
}

// A server still held when the code holding it throws is closed, never lost.
struct DiscardUnlessReturned {
  pool::ServerPool*& servers;
  pool::ServerHandle& handle;
  ~DiscardUnlessReturned() {
    if (handle) servers->discard(std::move(handle));
  }
};

pool::ServerPoolOptions server_pool_options(const BasicPoolOptions& o, std::string name) {
  return pool::ServerPoolOptions{.name = std::move(name),
                                 .pooler = o.pooler,
                                 .reset_query = o.server_reset_query,
                                 .reset_timeout = o.server_reset_query_timeout,
                                 .idle_timeout = o.server_idle_timeout,
                                 .lifetime = o.server_lifetime,
                                 .check_delay = o.server_check_delay,
                                 .reconnect_initial = o.server_reconnect_initial_time,
                                 .reconnect_max = o.server_reconnect_max_time,
                                 .janitor_period = std::chrono::seconds(1),
                                 .connect_retry_window = o.server_connect_retry_window};
}

// What the hybrid pool adds to the basic one.
struct HybridSettings {
  Consistency consistency = Consistency::eventual;
  std::size_t max_replay_buffer = 0;
  std::chrono::nanoseconds max_replication_lag{0};
};

// The basic pool, and with replicas the hybrid pool: the same transaction
// pooling, with each unit of work sent to a replica or the primary.
class BasicPool final : public Pool, public pool::ParkingPool {
 public:
  explicit BasicPool(BasicPoolOptions options, std::optional<HybridSettings> hybrid = std::nullopt)
      : options_(std::move(options)),
        hybrid_(hybrid),
        servers_(std::make_shared<pool::ServerPool>(server_pool_options(options_, options_.name))) {
    if (hybrid_) {
      replicas_ = std::make_shared<pool::ServerPool>(server_pool_options(
          options_, options_.name.empty() ? std::string() : options_.name + " (replicas)"));
      // Replicas are always checked: rotation depends on it.
      replica_monitor_ = std::make_shared<pool::HealthMonitor>(
          replicas_, pool::HealthMonitorOptions{.critics = options_.critics,
                                                .check_period = options_.check_period,
                                                .replicas = true,
                                                .max_replication_lag = hybrid_->max_replication_lag});
    }
    if (!options_.critics.empty())
      primary_monitor_ = std::make_shared<pool::HealthMonitor>(
          servers_, pool::HealthMonitorOptions{.critics = options_.critics,
                                               .check_period = options_.check_period});
  }

  void add_recipe(std::string name, Recipe recipe) override {
    servers_->add_recipe(std::move(name), std::move(recipe));
  }
  void add_replica_recipe(std::string name, Recipe recipe) override {
    if (!replicas_) {
      Pool::add_replica_recipe(std::move(name), std::move(recipe));
      return;
    }
    replicas_->add_recipe(std::move(name), std::move(recipe));
  }
  void remove_recipe(std::string_view name) override {
    servers_->remove_recipe(name);
    if (replicas_) replicas_->remove_recipe(name);
  }

  void start(const Context& context) override {
    log_ = context.log;
    servers_->start(context);
    if (replicas_) replicas_->start(context);
    for (const auto& monitor : {primary_monitor_, replica_monitor_})
      if (monitor) monitor->start(context);
  }
  void stop() override {
    for (const auto& monitor : {primary_monitor_, replica_monitor_})
      if (monitor) monitor->stop();
    servers_->stop();
    if (replicas_) replicas_->stop();
  }

  void pause() override {
    servers_->pause();
    if (replicas_) replicas_->pause();
  }
  void resume() override {
    servers_->resume();
    if (replicas_) replicas_->resume();
  }

  PoolStats stats() const override {
    PoolStats s = servers_->stats();
    if (replicas_) s.add(replicas_->stats());
    s.clients = clients_.load(std::memory_order_relaxed);
    s.clients_served = clients_served_.load(std::memory_order_relaxed);
    counters_.fill(s);
    return s;
  }
  PoolDescription describe() const override {
    return {.kind = hybrid_ ? "hybrid" : "basic",
            .mode = options_.release_after_transaction ? "transaction" : "session",
            .name = options_.name};
  }
  std::vector<ServerStats> server_stats() const override {
    return primary_then_replicas([](const pool::ServerPool& p) { return p.server_stats(); });
  }
  std::vector<RecipeStats> recipe_stats() const override {
    return primary_then_replicas([](const pool::ServerPool& p) { return p.recipe_stats(); });
  }

  // Not a coroutine: the client's session runs in serve_transactions' or
  // serve_session's frame, without one of this function's kept around it.
  asio::awaitable<Verdict> serve(Client& client) override {
    offer_scram_keys(client);
    if (options_.release_after_transaction) return serve_transactions(client);
    return serve_session(client);
  }

  // Transaction pooling parks an idle client; TLS ones excepted (their
  // bytes come through the engine, read in a coroutine).
  asio::awaitable<Verdict> serve_parkable(Client& client) override {
    if (!options_.release_after_transaction || client.session().conn.stream.is_tls()) return serve(client);
    offer_scram_keys(client);
    return serve_until_parked(client);
  }

 private:
  // Counts the pool's clients while it serves one.
  class Attending {
   public:
    explicit Attending(BasicPool& pool) : pool_(pool) {
      pool_.clients_.fetch_add(1, std::memory_order_relaxed);
      pool_.clients_served_.fetch_add(1, std::memory_order_relaxed);
    }
    Attending(const Attending&) = delete;
    Attending& operator=(const Attending&) = delete;
    ~Attending() { pool_.clients_.fetch_sub(1, std::memory_order_relaxed); }
    [[nodiscard]] BasicPool& pool() const { return pool_; }

   private:
    BasicPool& pool_;
  };

  // What transaction pooling keeps for a client from one unit of work to the
  // next, in serve_transactions' frame (a unit's own state lives in
  // serve_unit's, made per unit). The rest is made once the client is
  // greeted (begin_units).
  using Middlewares = std::vector<std::unique_ptr<Middleware>>;
  struct TransactionSession {
    explicit TransactionSession(const Client& client)
        : share(std::make_shared<pool::ClientShare>(pool::ClientShare{.client_id = client.id()})) {}
    std::shared_ptr<pool::ClientShare> share;  // the client's account for the rob pooler
    pool::TransactionClient state;
    // Null when the pool has none (most): an empty vector is 24 bytes a parked client keeps.
    std::unique_ptr<const Middlewares> middlewares;
    // Pools with replicas only, made by start_tracking: 16 bytes fewer in
    // every parked client of the others.
    struct Hybrid {
      pool::HybridClient route;
      pool::ReplayRecord record;  // what a unit on a replica sent, for its replay
    };
    std::unique_ptr<Hybrid> hybrid;
    [[nodiscard]] const pool::HybridClient& route() const {
      static const pool::HybridClient primary_only;
      return hybrid ? hybrid->route : primary_only;
    }
  };

  // What a parked client keeps of its transaction pooling; its session owns it.
  struct ParkedClient final : detail::ClientSession::Parked {
    ParkedClient(BasicPool& pool, const Client& client) : attending(pool), ts(client) {}
    void readable(std::unique_ptr<detail::ClientSession::Owner> owner, std::error_code ec) override {
      attending.pool().resume_parked(std::move(owner), *this, ec);
    }
    const Attending attending;  // its pool: alive while its clients are, as they hold its route
    TransactionSession ts;
  };

  void offer_scram_keys(Client& client) {
    if (const auto& pass = client.session().scram_pass_through) {
      servers_->offer_scram_keys(pass->secret, pass->keys);
      if (replicas_) replicas_->offer_scram_keys(pass->secret, pass->keys);
    }
  }

  void begin_units(Client& client, TransactionSession& ts) {
    if (auto made = make_middlewares(client); !made.empty())
      ts.middlewares = std::make_unique<const Middlewares>(std::move(made));
  }

  // Made per unit, not kept: a parked client keeps as little as it can.
  pool::UnitOptions unit_options(pool::ClientMeter& meter) {
    return pool::UnitOptions{
        .registry = options_.extended_query_sync ? &statements_ : nullptr,
        .dynamic_parameters = options_.parameter_status_sync == ParameterStatusSync::dynamic,
        .idle_transaction_timeout = options_.idle_transaction_timeout,
        .track_writes = hybrid_.has_value(),
        .meter = &meter};
  }

  // The client's mode with replicas and the parameters that follow it.
  // An error is the client's FATAL one.
  std::optional<PgError> start_tracking(Client& client, TransactionSession& ts) {
    if (hybrid_) {
      auto mode = pool::take_hybrid_mode(client.parameters);
      if (!mode) return std::move(mode.error());
      ts.hybrid = std::make_unique<TransactionSession::Hybrid>();
      ts.hybrid->route.mode = *mode;
    }
    // The configured list, and the client's other parameters after it; most
    // clients have none, and take the configured list without a copy.
    std::vector<std::string> tracked;
    for (const auto& [name, value] : client.parameters) {
      const auto& list = tracked.empty() ? options_.tracked_parameters : tracked;
      if (std::any_of(list.begin(), list.end(), [&name = name](const std::string& n) { return iequals(n, name); }))
        continue;
      if (tracked.empty()) tracked = options_.tracked_parameters;
      tracked.push_back(name);
    }
    if (tracked.empty()) {
      ts.state.tracked = configured_tracked_.names;
      ts.state.tracked_id = configured_tracked_.id;
      return std::nullopt;
    }
    auto interned = tracked_lists_.intern(std::move(tracked));
    ts.state.tracked = std::move(interned.names);
    ts.state.tracked_id = interned.id;
    return std::nullopt;
  }
  // The primary's rows, then the replicas' marked as such (hybrid pools).
  template <class List>
  std::invoke_result_t<List, const pool::ServerPool&> primary_then_replicas(List list) const {
    auto out = list(*servers_);
    if (replicas_) {
      for (auto& row : list(*replicas_)) {
        row.replica = true;
        out.push_back(std::move(row));
      }
    }
    return out;
  }

  asio::awaitable<Verdict> serve_session(Client& client) {
    using namespace asio::experimental::awaitable_operators;
    const Attending attending(*this);
    detail::ClientSession& session = client.session();
    auto acquired =
        co_await (servers_->acquire(options_.client_acquire_timeout) || wait_for_hangup(session));
    if (acquired.index() == 1) co_return Verdict::done();  // hung up while waiting
    auto& result = std::get<0>(acquired);
    if (!result) co_return Verdict::fail(std::move(result.error()));
    pool::ServerHandle handle = std::move(*result);
    pool::ServerPool* holder = servers_.get();
    DiscardUnlessReturned guard{holder, handle};
    backend::ServerConnection& server = *handle->connection;

    if (options_.parameter_status_sync != ParameterStatusSync::none) {
      if (auto error = co_await pool::apply_parameters(server, client.parameters)) {
        servers_->release(std::move(handle));
        co_return Verdict::fail(std::move(*error));
      }
    }
    const auto greet_ec = co_await greet(session, server.parameters);
    if (greet_ec) {
      servers_->release(std::move(handle));
      co_return Verdict::done();
    }

    const auto middlewares = make_middlewares(client);
    std::optional<detail::ClientSession::CancelTo> cancel_to;
    cancel_to.emplace(session, server.address, server.key);
    pool::ClientMeter meter(counters_, session.conn);
    const pool::RelayOutcome outcome = co_await pool::relay_session(
        session, server, middlewares, options_.idle_transaction_timeout, &meter);
    cancel_to.reset();

    if (outcome.end == pool::RelayOutcome::End::server_gone) {
      if (log_) log_->warn("client #{}: {}", client.id(), outcome.detail);
      servers_->discard(std::move(handle));
    } else {
      if (log_ && outcome.end == pool::RelayOutcome::End::client_protocol_error)
        log_->info("client #{}: protocol error: {}", client.id(), outcome.detail);
      servers_->release(std::move(handle));
    }
    if (outcome.end == pool::RelayOutcome::End::client_terminated ||
        outcome.end == pool::RelayOutcome::End::client_gone)
      session.left = true;
    if (outcome.client_error) co_return Verdict::fail(*outcome.client_error);
    co_return Verdict::done();
  }

  // Transaction pooling: a server is held from the client's first message of
  // a unit of work until the server is idle again outside a transaction. With
  // replicas, each unit goes where choose_server sends it, and a unit a
  // replica cannot finish is replayed on the primary.
  //
  // Here, for callers that cannot let a client be parked (TLS clients, and
  // an embedder's handler calling serve), the client's state lives in this
  // frame, and the frame as long as the client; what the startup needs is
  // in greet_client's frame, what a unit needs in serve_unit's.
  asio::awaitable<Verdict> serve_transactions(Client& client) {
    const Attending attending(*this);
    TransactionSession ts(client);
    if (auto failed = co_await greet_client(client, ts)) co_return std::move(*failed);
    begin_units(client, ts);
    co_return std::move(*(co_await serve_units(client, ts, Idle::wait)).verdict);
  }

  // The same, for a client that can be parked: greeted, then parked
  // (ClientSession::park) with its state in a ParkedClient; resume_parked
  // goes on when it sends something.
  asio::awaitable<Verdict> serve_until_parked(Client& client) {
    auto parked = std::make_unique<ParkedClient>(*this, client);
    if (auto failed = co_await greet_client(client, parked->ts)) co_return std::move(*failed);
    begin_units(client, parked->ts);
    if (auto ended = (co_await serve_units(client, parked->ts, Idle::park)).verdict) co_return std::move(*ended);
    client.session().park(std::move(parked));
    co_return Verdict::done();  // not read by the callers: the client is parked
  }

  // A parked client's wait ended: its units run in a coroutine of their own,
  // which waits for the next ones in its frame (a busy client costs no more
  // than one never parked) until the App's sweep has it parked again
  // (ClientSession::park_requested).
  void resume_parked(std::unique_ptr<detail::ClientSession::Owner> owner, ParkedClient& parked, std::error_code ec) {
    using detail::ClientSession;
    ClientSession& session = owner->owned();
    if (ec || !read_idle_now(session)) return ClientSession::unpark(std::move(owner), Verdict::done());
    if (session.conn.in.empty()) return ClientSession::wait_parked(std::move(owner));  // a spurious wakeup
    const asio::any_io_executor executor = session.conn.stream.get_executor();
    net::launch(executor, serve_units(session.client, parked.ts, Idle::wait_until_parked),
                [this, owner = std::move(owner)](std::exception_ptr e, UnitsEnd ended) mutable {
                  if (e) {
                    // The data path reports errors as values: this is a bug.
                    log_internal_error(owner->owned(), e);
                    ended.verdict = Verdict::done();
                  }
                  if (ended.verdict) return ClientSession::unpark(std::move(owner), std::move(*ended.verdict));
                  if (ended.move_to) return ClientSession::wait_parked_on(std::move(owner), *ended.move_to);
                  ClientSession::wait_parked(std::move(owner));
                });
  }

  void log_internal_error(const detail::ClientSession& session, const std::exception_ptr& e) const {
    if (log_) net::log_escaped(*log_, e, fmt::format("client connection #{}", session.facts.id));
  }

  // What serve_units does when the client has nothing more for it.
  enum class Idle {
    wait,               // wait in the frame for its next message
    park,               // return no verdict: the caller parks the client
    wait_until_parked,  // wait, and return no verdict once asked to park or
                        // when the client is to move to another thread
  };

  // How serve_units ended: the client's verdict, or none when it is to be
  // parked; then on another thread's io_context if move_to is set.
  struct UnitsEnd {
    UnitsEnd() = default;  // to be parked
    UnitsEnd(Verdict v) : verdict(std::move(v)) {}  // NOLINT: co_return a verdict
    UnitsEnd(std::nullopt_t /*park*/) {}            // NOLINT: co_return std::nullopt
    static UnitsEnd move(const net::IoExecutor& to) {
      UnitsEnd end(std::nullopt);
      end.move_to = to;
      return end;
    }
    std::optional<Verdict> verdict;
    std::optional<net::IoExecutor> move_to;
  };

  // Units of work as the client sends them (see Idle and UnitsEnd).
  asio::awaitable<UnitsEnd> serve_units(Client& client, TransactionSession& ts, Idle idle) {
    detail::ClientSession& session = client.session();
    // Here, not in the client's state: between the units' ReadyForQuery a
    // meter has only its byte marks, and a parked client keeps no meter.
    // What is buffered already came after the last meter's marks.
    pool::ClientMeter meter(counters_, session.conn, session.conn.in.size());
    for (;;) {
      while (!session.conn.in.empty()) {
        if (static_cast<char>(session.conn.in.data()[0]) == 'X') {
          session.left = true;
          co_return Verdict::done();
        }
        if (answer_prepare_only(session, ts)) {
          const auto ec = co_await net::flush(session.conn);
          if (ec) co_return Verdict::done();
          continue;
        }
        if (auto ended = co_await serve_unit(client, ts, meter)) co_return std::move(*ended);
      }
      release_idle_buffers(session);
      if (idle == Idle::park) co_return std::nullopt;
      const bool parkable = idle == Idle::wait_until_parked;  // never a TLS client
      // Between units, nothing buffered and no server held: where a client
      // can go to another thread (IoThreads::move_from), parked there.
      if (parkable && session.threads != nullptr)
        if (auto to = session.threads->move_from(session.conn.stream.get_executor())) co_return UnitsEnd::move(*to);
      std::array<std::byte, idle_read_size> first;
      net::IoResult read;
      if (parkable) {
        // The sweep parks a client that waits long, which also finds an
        // end of file hidden behind its last message (a client that
        // half-closed after it): no recv() first (Stream::receive_until_parked).
        session.begin_idle_wait();
        co_await session.conn.stream.receive_until_parked(asio::buffer(first), read);
      } else {
        co_await session.conn.stream.receive(asio::buffer(first), read);
      }
      const auto [ec, n] = read;
      if (parkable && session.end_idle_wait() && ec == asio::error::operation_aborted) co_return std::nullopt;
      if (!keep_idle_read(session, std::span(first).first(n), ec)) co_return Verdict::done();
    }
  }

  // A batch of Parse messages only, answered without a server when none is
  // idle (the reply is in the client's out buffer, to flush). Only a batch
  // that starts with Parse can be one: the pool's lock is taken for nothing else.
  bool answer_prepare_only(detail::ClientSession& session, TransactionSession& ts) {
    if (!options_.extended_query_sync || static_cast<char>(session.conn.in.data()[0]) != 'P' ||
        servers_->idle_count() != 0)
      return false;
    const std::size_t answered = pool::prepare_only_batch(session.conn.in.data(), session.facts.max_message_size,
                                                          ts.state, statements_, session.conn.out);
    session.conn.in.consume(answered);
    return answered > 0;
  }

  // Startup: the client's mode and tracked parameters, then one server tells
  // the client what the parameters are, after being given the client's (a
  // bad one fails the client as PostgreSQL would). A client like the last
  // one greeted that way, while the pool's servers are as they were, is told
  // the same without a server (an acquire, a check and a release fewer per
  // connection); pools with replicas greet through a server always, as what
  // a client is told depends on its route. nullopt when the client may go on.
  asio::awaitable<std::optional<Verdict>> greet_client(Client& client, TransactionSession& ts) {
    if (auto error = start_tracking(client, ts)) co_return Verdict::fail(std::move(*error));
    pool::TransactionClient& state = ts.state;
    detail::ClientSession& session = client.session();
    const std::uint64_t changes = servers_->changes();  // before the server says anything
    auto greeting = hybrid_ ? std::nullopt : greet_memo_.find(state.tracked_id, client.parameters, changes);
    if (greeting) {
      state.wanted.adopt(std::move(greeting->wanted));
      state.view.adopt(std::move(greeting->view));
    } else {
      auto result = co_await choose_server(ts.route(), ts.share);
      if (!result) co_return std::move(result.error());
      auto [holder, handle] = std::move(*result);
      DiscardUnlessReturned guard{holder, handle};
      backend::ServerConnection& server = *handle->connection;
      const Parameters& defaults = handle->transaction.defaults;
      auto wanted = wanted_memo_.find(state.tracked_id, defaults, client.parameters);
      if (wanted) {
        state.wanted.adopt(wanted);
      } else {
        for (const auto& name : *state.tracked) {
          if (const std::string* v = defaults.find(name)) state.wanted.set(name, *v);
        }
        for (const auto& [name, value] : client.parameters) state.wanted.set(name, value);
      }
      // Most clients want and are told the same: they share one copy each.
      // Before the sync, so that the server remembers the shared copy.
      if (!wanted) {
        wanted = parameter_sets_.intern(state.wanted.get());
        state.wanted.adopt(wanted);
        wanted_memo_.remember(state.tracked_id, defaults, client.parameters, wanted);
      }
      // A server synced to an equal list already (the last client's, often)
      // needs no round trip, nor the list compared name by name.
      if (!synced_already(*handle, state)) {
        if (auto error = co_await sync_server(*handle, state)) {
          holder->release(std::move(handle));
          error->severity = "FATAL";
          co_return Verdict::fail(std::move(*error));
        }
      }
      if (hybrid_ && server.parameters.find("in_hot_standby") != nullptr) {
        // The client's server is the pool, not the replica that happened to
        // greet it: libpq's target_session_attrs=read-write reads this.
        Parameters view = server.parameters;
        view.set("in_hot_standby", ts.route().mode == pool::HybridMode::ro ? "on" : "off");
        state.view.adopt(parameter_sets_.intern(view));
      } else {
        state.view.adopt(parameter_sets_.intern(server.parameters));
      }
      holder->release(std::move(handle));
      if (!hybrid_)
        greet_memo_.remember(state.tracked_id, client.parameters, changes,
                             {.wanted = state.wanted.snapshot(), .view = state.view.snapshot()});
    }
    status_messages_.append(session.conn.out, state.view.snapshot(), key_and_ready_size);
    append_key_and_ready(session);
    const auto greet_ec = co_await net::flush(session.conn);
    if (greet_ec) co_return Verdict::done();
    co_return std::nullopt;
  }

  // One unit of work: a server for it, the relay, and what its end means for
  // the client. nullopt when the client goes on with its next unit.
  asio::awaitable<std::optional<Verdict>> serve_unit(Client& client, TransactionSession& ts,
                                                     pool::ClientMeter& meter) {
    detail::ClientSession& session = client.session();
    // Null without replicas: no replay record, and no route to change.
    TransactionSession::Hybrid* hybrid = ts.hybrid.get();
    const std::shared_ptr<pool::ClientShare>& share = ts.share;
    pool::TransactionClient& state = ts.state;
    static const Middlewares none;
    const Middlewares& middlewares = ts.middlewares ? *ts.middlewares : none;
    // An idle server of the primary when one is there: no coroutine frames.
    Chosen chosen{servers_.get(),
                  replicas_ ? nullptr : servers_->try_acquire(session.conn.stream.get_executor(), share)};
    if (chosen.handle) {
      first_use(*chosen.handle);
    } else if (!replicas_) {
      // The primary's wait, without choose_server's frame around it.
      auto result = co_await acquire_for(*servers_, share);
      if (!result) co_return Verdict::fail(std::move(result.error()));
      chosen.handle = first_use(std::move(*result));
    } else {
      auto result = co_await choose_server(ts.route(), share);
      if (!result) co_return std::move(result.error());
      chosen = std::move(*result);
    }
    auto& [holder, handle] = chosen;
    DiscardUnlessReturned guard{holder, handle};
    const bool on_replica = holder != servers_.get();

    std::optional<RestorePoint> restore_point;
    pool::UnitOptions first_options = unit_options(meter);
    if (on_replica) {
      hybrid->record.reset(hybrid_->max_replay_buffer, hybrid->route.mode == pool::HybridMode::rw);
      first_options.record = &hybrid->record;
      restore_point = RestorePoint{state.statements, state.wanted, state.settings_dirty};
    }
    if (!synced_already(*handle, state))
      if (auto fatal = co_await sync_for_unit(client, holder, handle, state)) co_return std::move(*fatal);
    pool::UnitOutcome outcome = co_await pool::relay_unit(session, *handle->connection, handle->transaction,
                                                          state, first_options, middlewares);
    bool wrote = outcome.wrote;

    if (outcome.end == pool::UnitOutcome::End::replay) {
      if (auto failed = co_await replay_on_primary(client, ts, meter, middlewares, chosen, *restore_point, outcome))
        co_return std::move(*failed);
      wrote = outcome.wrote;  // the replica's work was undone
    }
    if (outcome.write_refused && hybrid) hybrid->route.primary_first = true;
    backend::ServerConnection& server = *handle->connection;

    using End = pool::UnitOutcome::End;
    switch (outcome.end) {
      case End::released:
        if (state.settings_dirty) {
          state.settings_dirty = false;
          co_await read_back_settings(server, handle->transaction, state);
        }
        if (wrote && hybrid_ && hybrid_->consistency == Consistency::read_your_writes &&
            holder == servers_.get()) {
          const auto lsn = co_await pool::wal_insert_position(server);
          if (lsn && hybrid) hybrid->route.min_lsn = std::max(hybrid->route.min_lsn, *lsn);
        }
        holder->release(std::move(handle));
        co_return std::nullopt;
      case End::client_terminated:
      case End::client_gone:
        session.left = true;
        holder->release(std::move(handle));
        co_return Verdict::done();
      case End::client_protocol_error:
        if (log_) log_->info("client #{}: protocol error: {}", client.id(), outcome.detail);
        holder->release(std::move(handle));
        co_return Verdict::fail(*outcome.client_error);
      case End::replay:  // not on the primary
      case End::replay_diverged:
        if (log_) log_->warn("client #{}: {}", client.id(), outcome.detail);
        holder->release(std::move(handle));  // rolled back by the cleanup
        co_return Verdict::fail(PgError::fatal(
            sqlstate::serialization_failure,
            "could not serialize access: this transaction began on a replica and had to move "
            "to the primary, where its earlier statements returned different results; it was "
            "rolled back, retry it"));
      case End::server_gone:
        break;
    }
    if (log_) log_->warn("client #{}: {}", client.id(), outcome.detail);
    const std::string where = server.address.to_string();
    holder->discard(std::move(handle));
    if (outcome.server_sent_fatal) co_return Verdict::done();  // the server said why
    if (outcome.client_torn || outcome.owed_ready == 0)
      co_return Verdict::fail(PgError::fatal(
          sqlstate::connection_failure,
          "lost the connection to server " + where + " in the middle of a transaction"));
    // The client waits for replies: it gets an error in their place and
    // can go on with its next transaction on another server.
    proto::be::ErrorResponse::encode(
        session.conn.out,
        PgError::error(sqlstate::connection_failure,
                       "lost the connection to server " + where +
                           "; the current transaction is lost, the connection can be used again"));
    for (std::size_t i = 0; i < outcome.owed_ready; ++i)
      proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(session.conn.out);
    const auto ec = co_await net::flush(session.conn);
    if (ec) co_return Verdict::done();
    co_return std::nullopt;
  }

  // Readies a server for a unit, and tells whether the client's parameters
  // are on it already (the common case: then sync_for_unit, a coroutine, is
  // not called at all).
  bool synced_already(pool::PooledServer& pooled, pool::TransactionClient& state) {
    pooled.transaction.statements.set_capacity(options_.max_prepared_statements);
    if (options_.parameter_status_sync == ParameterStatusSync::none) return true;
    pool::TransactionServer& server = pooled.transaction;
    const Parameters& reported = pooled.connection->parameters;
    auto& synced = server.synced;
    const auto& wanted = state.wanted.snapshot();
    if (!synced.valid || synced.reported_version != reported.version() ||
        synced.settings_version != server.settings.version())
      return false;
    if (synced.wanted == wanted) return true;
    if (*synced.wanted != *wanted) return false;
    // Equal lists in two copies (a client's made before the pool's shared
    // one, say): the server keeps the client's, so the next unit like this
    // one compares pointers, not every name and value.
    synced.wanted = wanted;
    return true;
  }

  // Sets the client's parameters on the server and remembers what it was
  // synced to, for synced_already.
  static asio::awaitable<std::optional<PgError>> sync_server(pool::PooledServer& pooled,
                                                             pool::TransactionClient& state) {
    pool::TransactionServer& server = pooled.transaction;
    const Parameters& reported = pooled.connection->parameters;
    auto& synced = server.synced;
    const auto wanted = state.wanted.snapshot();
    synced.valid = false;
    auto error = co_await pool::sync_parameters(*pooled.connection, server.settings, state.wanted.get());
    if (!error)
      synced = {.wanted = wanted,
                .reported_version = reported.version(),
                .settings_version = server.settings.version(),
                .valid = true};
    co_return error;
  }

  // The client's parameters on the server before a unit, when synced_already
  // said they are not. A failure is the client's FATAL error; the server is closed.
  asio::awaitable<std::optional<Verdict>> sync_for_unit(Client& client, pool::ServerPool* holder,
                                                        pool::ServerHandle& handle,
                                                        pool::TransactionClient& state) {
    auto error = co_await sync_server(*handle, state);
    if (!error) co_return std::nullopt;
    if (log_) log_->warn("client #{}: could not sync parameters: {}", client.id(), error->message);
    holder->discard(std::move(handle));
    error->severity = "FATAL";
    co_return Verdict::fail(std::move(*error));
  }

  struct Chosen {
    pool::ServerPool* holder = nullptr;
    pool::ServerHandle handle;
  };

  // On a replica, the client's state before the unit, so that the unit can
  // move to the primary.
  struct RestorePoint {
    pool::ClientStatements statements;
    pool::SharedParameters wanted;
    bool settings_dirty = false;
  };

  // A unit that began on a replica and must run on the primary instead: the
  // replica goes back, the client's state is as before the unit, and its
  // messages run again on a server of the primary (`chosen` from then on),
  // whose outcome replaces `outcome`. Its own frame, not serve_unit's: it is
  // rare, and serve_unit's is made per unit. nullopt when the unit ran.
  asio::awaitable<std::optional<Verdict>> replay_on_primary(Client& client, TransactionSession& ts,
                                                            pool::ClientMeter& meter,
                                                            const Middlewares& middlewares, Chosen& chosen,
                                                            RestorePoint& restore_point,
                                                            pool::UnitOutcome& outcome) {
    detail::ClientSession& session = client.session();
    TransactionSession::Hybrid& hybrid = *ts.hybrid;
    pool::TransactionClient& state = ts.state;
    auto& [holder, handle] = chosen;
    if (log_)
      log_->debug("client #{}: unit moves from replica {} to the primary: {}", client.id(),
                  handle->connection->address.to_string(), hybrid.record.reason);
    holder->note_replay(*handle);
    holder->release(std::move(handle));
    state.statements = std::move(restore_point.statements);
    state.wanted = std::move(restore_point.wanted);
    state.settings_dirty = restore_point.settings_dirty;
    // Sent again as if the client had just sent it, ahead of anything newer.
    session.conn.in.prepend(hybrid.record.replay_bytes());
    const bool wrote = hybrid.record.cause == pool::ReplayCause::read_only;
    holder = servers_.get();
    auto primary = co_await acquire_for(*servers_, ts.share);
    if (!primary) co_return Verdict::fail(std::move(primary.error()));
    handle = first_use(std::move(*primary));
    if (!synced_already(*handle, state))
      if (auto fatal = co_await sync_for_unit(client, holder, handle, state)) co_return std::move(*fatal);
    pool::UnitOptions replay_options = unit_options(meter);
    replay_options.replay_of = &hybrid.record.sent;
    outcome = co_await pool::relay_unit(session, *handle->connection, handle->transaction, state,
                                        replay_options, middlewares);
    outcome.wrote = outcome.wrote || wrote;
    co_return std::nullopt;
  }

  // Where a unit of work goes: a replica unless the client writes only (wo),
  // or must start on the primary, or no replica is in rotation, or (read your
  // writes) the replica has not replayed the client's last write. A replica
  // that cannot be had sends the client to the primary, never to an error.
  asio::awaitable<Expected<Chosen, Verdict>> choose_server(const pool::HybridClient& route,
                                                           std::shared_ptr<pool::ClientShare> share) {
    const bool replica_first = replicas_ && route.mode != pool::HybridMode::wo &&
                               (!route.primary_first || route.mode == pool::HybridMode::ro) &&
                               replicas_->has_recipe_in_rotation();
    if (replica_first) {
      auto replica = co_await acquire_for(*replicas_, share);
      if (replica) {
        pool::ServerHandle handle = first_use(std::move(*replica));
        const bool current = co_await replayed_past(*handle, route.min_lsn);
        if (current) co_return Chosen{replicas_.get(), std::move(handle)};
        if (handle->connection->state.idle()) replicas_->release(std::move(handle));
        else replicas_->discard(std::move(handle));
      }
    }
    auto primary = co_await acquire_for(*servers_, std::move(share));
    if (!primary) co_return Unexpected(Verdict::fail(std::move(primary.error())));
    co_return Chosen{servers_.get(), first_use(std::move(*primary))};
  }

  // Whether a replica has replayed up to `lsn` (0: no need). Asks the server
  // only when what its recipe is known to have replayed is not enough.
  asio::awaitable<bool> replayed_past(pool::PooledServer& replica, std::uint64_t lsn) {
    if (lsn == 0 || replicas_->known_replay_lsn(replica) >= lsn) co_return true;
    const auto replayed = co_await pool::wal_replay_position(*replica.connection);
    if (!replayed) co_return false;
    replicas_->note_replay_lsn(replica, *replayed);
    co_return *replayed >= lsn;
  }

  // A server from `servers`, waiting up to client_acquire_timeout. A plain
  // function, not a coroutine around acquire's: a wait makes acquire's frame
  // alone. What it gives goes through first_use.
  asio::awaitable<Expected<pool::ServerHandle, PgError>> acquire_for(pool::ServerPool& servers,
                                                                     std::shared_ptr<pool::ClientShare> share) {
    return servers.acquire(options_.client_acquire_timeout, std::move(share));
  }
  static pool::ServerHandle first_use(pool::ServerHandle server) {
    first_use(*server);
    return server;
  }

  // A server's own defaults are what it reported when it was new.
  static void first_use(pool::PooledServer& server) {
    if (server.transaction.initialized) return;
    server.transaction.initialized = true;
    server.transaction.defaults = server.connection->parameters;
  }

  // A query may have changed parameters PostgreSQL does not report: read
  // them back so they follow the client. A failure leaves them as they were.
  asio::awaitable<void> read_back_settings(backend::ServerConnection& server,
                                           pool::TransactionServer& server_state,
                                           pool::TransactionClient& state) {
    std::vector<std::string> names;
    for (const auto& name : *state.tracked)
      if (server.parameters.find(name) == nullptr) names.push_back(name);
    auto values = co_await pool::read_settings(server, names);
    if (!values) co_return;
    for (const auto& name : names) {
      if (const std::string* v = values->find(name)) {
        state.wanted.set(name, *v);
        server_state.settings.set(name, *v);
      } else {
        state.wanted.erase(name);
        server_state.settings.erase(name);
      }
    }
  }

  std::vector<std::unique_ptr<Middleware>> make_middlewares(Client& client) const {
    std::vector<std::unique_ptr<Middleware>> middlewares;
    for (const MiddlewareFactory& make : options_.middlewares)
      if (auto m = make(client)) middlewares.push_back(std::move(m));
    return middlewares;
  }

  BasicPoolOptions options_;
  std::optional<HybridSettings> hybrid_;
  pool::StatementRegistry statements_;
  pool::TrackedLists tracked_lists_;
  // tracked_parameters as they are: what most clients track.
  const pool::TrackedLists::Interned configured_tracked_ = tracked_lists_.intern(options_.tracked_parameters);
  pool::ParameterSets parameter_sets_;
  pool::StatusMessages status_messages_;
  pool::WantedMemo wanted_memo_;
  pool::GreetMemo greet_memo_;
  std::shared_ptr<pool::ServerPool> servers_;   // the primary's, or the only ones
  std::shared_ptr<pool::ServerPool> replicas_;  // hybrid only
  std::shared_ptr<pool::HealthMonitor> primary_monitor_;  // with critics
  std::shared_ptr<pool::HealthMonitor> replica_monitor_;  // hybrid
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<std::uint64_t> clients_{0};
  std::atomic<std::uint64_t> clients_served_{0};
  pool::PoolCounters counters_;
};

}  // namespace

std::shared_ptr<Pool> make_basic_pool(BasicPoolOptions options) {
  return std::make_shared<BasicPool>(std::move(options));
}

std::shared_ptr<Pool> make_hybrid_pool(HybridPoolOptions options) {
  if (!options.base.release_after_transaction)
    throw std::invalid_argument(
        "the hybrid pool pools transactions: release_after_transaction must be true (mode "
        "\"transaction\")");
  if (options.max_replay_buffer == 0)
    throw std::invalid_argument("max_replay_buffer must be more than 0 bytes");
  return std::make_shared<BasicPool>(
      std::move(options.base),
      HybridSettings{.consistency = options.consistency,
                     .max_replay_buffer = options.max_replay_buffer,
                     .max_replication_lag = options.max_replication_lag});
}

}  // namespace pggat
