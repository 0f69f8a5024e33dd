// The basic pool: acquire a server, pair it with the client, relay, give it back.
#include "pggat/basic_pool.hpp"

#include <sys/socket.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>
#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "frontend/client_session.hpp"
#include "pggat/proto/backend.hpp"
#include "pool/parameter_sync.hpp"
#include "pool/server_pool.hpp"
#include "pool/session_relay.hpp"
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

// The rest of the startup reply: the server's parameters, our key, ready.
asio::awaitable<std::error_code> greet(detail::ClientSession& session, const Parameters& parameters) {
  for (const auto& [name, value] : parameters)
    proto::be::ParameterStatus{name, value}.encode(session.conn.out);
  proto::be::BackendKeyData{static_cast<std::int32_t>(session.key.process_id),
                            static_cast<std::int32_t>(session.key.secret_key)}
      .encode(session.conn.out);
  proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(session.conn.out);
  co_return co_await net::flush(session.conn);
}

// Waits for the client's next message without a server. False when the
// client left (end of file, error, or a Terminate before anything else).
asio::awaitable<bool> await_client_message(detail::ClientSession& session) {
  net::RecvBuffer& in = session.conn.in;
  if (in.empty()) {
    auto [ec, n] = co_await session.conn.stream.read_some(in.prepare());
    if (ec || n == 0) co_return false;
    in.commit(n);
  }
  co_return static_cast<char>(in.data()[0]) != 'X';
}

// A server still held when the code holding it throws is closed, never lost.
struct DiscardUnlessReturned {
  pool::ServerPool& servers;
  pool::ServerHandle& handle;
  ~DiscardUnlessReturned() {
    if (handle) servers.discard(std::move(handle));
  }
};

class BasicPool final : public Pool {
 public:
  explicit BasicPool(BasicPoolOptions options)
      : options_(std::move(options)),
        servers_(std::make_shared<pool::ServerPool>(pool::ServerPoolOptions{
            .name = options_.name,
            .pooler = options_.pooler,
            .reset_query = options_.server_reset_query,
            .reset_timeout = options_.server_reset_query_timeout,
            .idle_timeout = options_.server_idle_timeout,
            .lifetime = options_.server_lifetime,
            .check_delay = options_.server_check_delay,
            .reconnect_initial = options_.server_reconnect_initial_time,
            .reconnect_max = options_.server_reconnect_max_time,
            .janitor_period = std::chrono::seconds(1)})) {}

  void add_recipe(std::string name, Recipe recipe) override {
    servers_->add_recipe(std::move(name), std::move(recipe));
  }
  void remove_recipe(std::string_view name) override { servers_->remove_recipe(name); }

  void start(const Context& context) override {
    log_ = context.log;
    servers_->start(context);
  }
  void stop() override { servers_->stop(); }

  PoolStats stats() const override {
    PoolStats s = servers_->stats();
    s.clients = clients_.load(std::memory_order_relaxed);
    return s;
  }
  std::vector<RecipeStats> recipe_stats() const override { return servers_->recipe_stats(); }

  asio::awaitable<Verdict> serve(Client& client) override {
    clients_.fetch_add(1, std::memory_order_relaxed);
    struct Leave {
      std::atomic<std::uint64_t>& n;
      ~Leave() { n.fetch_sub(1, std::memory_order_relaxed); }
    } leave{clients_};
    if (const auto& pass = client.session().scram_pass_through)
      servers_->offer_scram_keys(pass->secret, pass->keys);
    if (options_.release_after_transaction) co_return co_await serve_transactions(client);
    co_return co_await serve_session(client);
  }

 private:
  asio::awaitable<Verdict> serve_session(Client& client) {
    using namespace asio::experimental::awaitable_operators;
    detail::ClientSession& session = client.session();
    auto acquired =
        co_await (servers_->acquire(options_.client_acquire_timeout) || wait_for_hangup(session));
    if (acquired.index() == 1) co_return Verdict::done();  // hung up while waiting
    auto& result = std::get<0>(acquired);
    if (!result) co_return Verdict::fail(std::move(result.error()));
    pool::ServerHandle handle = std::move(*result);
    DiscardUnlessReturned guard{*servers_, handle};
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
    session.cancel_target = detail::ClientSession::CancelTarget{server.address, server.key};
    const pool::RelayOutcome outcome = co_await pool::relay_session(session, server, middlewares,
                                                                        options_.idle_transaction_timeout);
    session.cancel_target.reset();

    if (outcome.end == pool::RelayOutcome::End::server_gone) {
      if (log_) log_->warn("client #{}: {}", client.id(), outcome.detail);
      servers_->discard(std::move(handle));
    } else {
      if (log_ && outcome.end == pool::RelayOutcome::End::client_protocol_error)
        log_->info("client #{}: protocol error: {}", client.id(), outcome.detail);
      servers_->release(std::move(handle));
    }
    if (outcome.client_error) co_return Verdict::fail(*outcome.client_error);
    co_return Verdict::done();
  }

  // Transaction pooling: a server is held from the client's first message of
  // a unit of work until the server is idle again outside a transaction.
  asio::awaitable<Verdict> serve_transactions(Client& client) {
    detail::ClientSession& session = client.session();
    // The client's account for the rob pooler, across its units of work.
    auto share = std::make_shared<pool::ClientShare>(pool::ClientShare{.client_id = client.id()});
    pool::TransactionClient state;
    state.tracked = options_.tracked_parameters;
    for (const auto& [name, value] : client.parameters) {
      if (std::none_of(state.tracked.begin(), state.tracked.end(),
                       [&name = name](const std::string& n) { return iequals(n, name); }))
        state.tracked.push_back(name);
    }

    // Startup: one server tells the client what the parameters are, after
    // being given the client's (a bad one fails the client as PostgreSQL would).
    {
      auto result = co_await acquire_for(share);
      if (!result) co_return std::move(result.error());
      pool::ServerHandle handle = std::move(*result);
      DiscardUnlessReturned guard{*servers_, handle};
      backend::ServerConnection& server = *handle->connection;
      for (const auto& name : state.tracked) {
        if (const std::string* v = handle->transaction.defaults.find(name)) state.wanted.set(name, *v);
      }
      for (const auto& [name, value] : client.parameters) state.wanted.set(name, value);
      if (options_.parameter_status_sync != ParameterStatusSync::none) {
        if (auto error = co_await pool::sync_parameters(server, handle->transaction.settings,
                                                        state.wanted)) {
          servers_->release(std::move(handle));
          error->severity = "FATAL";
          co_return Verdict::fail(std::move(*error));
        }
      }
      state.view = server.parameters;
      servers_->release(std::move(handle));
      const auto greet_ec = co_await greet(session, state.view);
      if (greet_ec) co_return Verdict::done();
    }

    const auto middlewares = make_middlewares(client);
    const pool::UnitOptions unit_options{
        .registry = options_.extended_query_sync ? &statements_ : nullptr,
        .dynamic_parameters = options_.parameter_status_sync == ParameterStatusSync::dynamic,
        .idle_transaction_timeout = options_.idle_transaction_timeout};
    for (;;) {
      const bool more = co_await await_client_message(session);
      if (!more) co_return Verdict::done();
      // Only a batch that starts with Parse can be a prepare-only one; the
      // pool's lock is taken for nothing else.
      if (unit_options.registry != nullptr && static_cast<char>(session.conn.in.data()[0]) == 'P' &&
          servers_->stats().servers_idle == 0) {
        proto::Buffer& reply = session.conn.out;
        const std::size_t answered = pool::prepare_only_batch(
            session.conn.in.data(), session.facts.max_message_size, state, statements_, reply);
        if (answered > 0) {
          session.conn.in.consume(answered);
          const auto ec = co_await net::flush(session.conn);
          if (ec) co_return Verdict::done();
          continue;
        }
      }
      auto result = co_await acquire_for(share);
      if (!result) co_return std::move(result.error());
      pool::ServerHandle handle = std::move(*result);
      DiscardUnlessReturned guard{*servers_, handle};
      backend::ServerConnection& server = *handle->connection;
      pool::TransactionServer& server_state = handle->transaction;
      server_state.statements.set_capacity(options_.max_prepared_statements);

      if (options_.parameter_status_sync != ParameterStatusSync::none) {
        if (auto error = co_await pool::sync_parameters(server, server_state.settings, state.wanted)) {
          if (log_) log_->warn("client #{}: could not sync parameters: {}", client.id(), error->message);
          servers_->discard(std::move(handle));
          error->severity = "FATAL";
          co_return Verdict::fail(std::move(*error));
        }
      }

      session.cancel_target = detail::ClientSession::CancelTarget{server.address, server.key};
      pool::UnitOutcome outcome =
          co_await pool::relay_unit(session, server, server_state, state, unit_options, middlewares);
      if (outcome.end == pool::UnitOutcome::End::retry) {
        // Once: a statement that changes again under the retry fails visibly.
        pool::UnitOptions once = unit_options;
        once.retry_changed_statements = false;
        outcome = co_await pool::relay_unit(session, server, server_state, state, once, middlewares);
      }
      session.cancel_target.reset();

      using End = pool::UnitOutcome::End;
      switch (outcome.end) {
        case End::retry:  // not after a run without retries
        case End::released:
          if (state.settings_dirty) {
            state.settings_dirty = false;
            co_await read_back_settings(server, server_state, state);
          }
          servers_->release(std::move(handle));
          continue;
        case End::client_terminated:
        case End::client_gone:
          servers_->release(std::move(handle));
          co_return Verdict::done();
        case End::client_protocol_error:
          if (log_) log_->info("client #{}: protocol error: {}", client.id(), outcome.detail);
          servers_->release(std::move(handle));
          co_return Verdict::fail(*outcome.client_error);
        case End::server_gone:
          break;
      }
      if (log_) log_->warn("client #{}: {}", client.id(), outcome.detail);
      const std::string where = server.address.to_string();
      servers_->discard(std::move(handle));
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
    }
  }

  asio::awaitable<Expected<pool::ServerHandle, Verdict>> acquire_for(
      std::shared_ptr<pool::ClientShare> share) {
    auto result = co_await servers_->acquire(options_.client_acquire_timeout, std::move(share));
    if (!result) co_return Unexpected(Verdict::fail(std::move(result.error())));
    pool::ServerHandle handle = std::move(*result);
    if (!handle->transaction.initialized) {
      handle->transaction.initialized = true;
      handle->transaction.defaults = handle->connection->parameters;
    }
    co_return handle;
  }

  // A query may have changed parameters PostgreSQL does not report: read
  // them back so they follow the client. A failure leaves them as they were.
  asio::awaitable<void> read_back_settings(backend::ServerConnection& server,
                                           pool::TransactionServer& server_state,
                                           pool::TransactionClient& state) {
    std::vector<std::string> names;
    for (const auto& name : state.tracked)
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
  pool::StatementRegistry statements_;
  std::shared_ptr<pool::ServerPool> servers_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<std::uint64_t> clients_{0};
};

}  // namespace

std::shared_ptr<Pool> make_basic_pool(BasicPoolOptions options) {
  return std::make_shared<BasicPool>(std::move(options));
}

}  // namespace pggat
