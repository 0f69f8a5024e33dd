// The basic pool: acquire a server, pair it with the client, relay, give it back.
#include "pggat/basic_pool.hpp"

#include <sys/socket.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>
#include <atomic>
#include <stdexcept>

#include "frontend/client_session.hpp"
#include "pggat/proto/backend.hpp"
#include "pool/parameter_sync.hpp"
#include "pool/server_pool.hpp"
#include "pool/session_relay.hpp"

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

class BasicPool final : public Pool {
 public:
  explicit BasicPool(BasicPoolOptions options)
      : options_(std::move(options)),
        servers_(std::make_shared<pool::ServerPool>(pool::ServerPoolOptions{
            options_.name, options_.server_reset_query, options_.server_reset_query_timeout,
            options_.server_idle_timeout, options_.server_reconnect_initial_time,
            options_.server_reconnect_max_time, std::chrono::seconds(1)})) {}

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

  asio::awaitable<Verdict> serve(Client& client) override {
    using namespace asio::experimental::awaitable_operators;
    detail::ClientSession& session = client.session();
    clients_.fetch_add(1, std::memory_order_relaxed);
    struct Leave {
      std::atomic<std::uint64_t>& n;
      ~Leave() { n.fetch_sub(1, std::memory_order_relaxed); }
    } leave{clients_};

    auto acquired =
        co_await (servers_->acquire(options_.client_acquire_timeout) || wait_for_hangup(session));
    if (acquired.index() == 1) co_return Verdict::done();  // hung up while waiting
    auto& result = std::get<0>(acquired);
    if (!result) co_return Verdict::fail(std::move(result.error()));
    pool::ServerHandle handle = std::move(*result);
    backend::ServerConnection& server = *handle->connection;

    if (options_.parameter_status_sync != ParameterStatusSync::none) {
      if (auto error = co_await pool::apply_parameters(server, client.parameters)) {
        servers_->release(std::move(handle));
        co_return Verdict::fail(std::move(*error));
      }
    }

    // The rest of the startup reply: the server's parameters, our key, ready.
    for (const auto& [name, value] : server.parameters)
      proto::be::ParameterStatus{name, value}.encode(session.conn.out);
    proto::be::BackendKeyData{static_cast<std::int32_t>(session.key.process_id),
                              static_cast<std::int32_t>(session.key.secret_key)}
        .encode(session.conn.out);
    proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(session.conn.out);
    const auto greet_ec = co_await net::flush(session.conn);
    if (greet_ec) {
      servers_->release(std::move(handle));
      co_return Verdict::done();
    }

    std::vector<std::unique_ptr<Middleware>> middlewares;
    for (const MiddlewareFactory& make : options_.middlewares)
      if (auto m = make(client)) middlewares.push_back(std::move(m));

    session.cancel_target = detail::ClientSession::CancelTarget{server.address, server.key};
    const pool::RelayOutcome outcome = co_await pool::relay_session(session, server, middlewares);
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

 private:
  BasicPoolOptions options_;
  std::shared_ptr<pool::ServerPool> servers_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<std::uint64_t> clients_{0};
};

}  // namespace

std::shared_ptr<Pool> make_basic_pool(BasicPoolOptions options) {
  if (options.release_after_transaction)
    throw std::invalid_argument(
        "transaction pooling (release_after_transaction) is not supported by this version yet; "
        "use \"mode\": \"session\"");
  if (options.pooler == PoolerKind::rob)
    throw std::invalid_argument("pooler \"rob\" is not supported by this version yet; use \"lifo\"");
  if (options.parameter_status_sync == ParameterStatusSync::dynamic)
    throw std::invalid_argument(
        "parameter_status_sync \"dynamic\" comes with transaction pooling and is not supported "
        "by this version yet");
  if (options.extended_query_sync)
    throw std::invalid_argument(
        "extended_query_sync comes with transaction pooling and is not supported by this version "
        "yet");
  return std::make_shared<BasicPool>(std::move(options));
}

}  // namespace pggat
