// Session relay: client and server pumps running side by side until one ends.
#include "pool/session_relay.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/this_coro.hpp>

#include "pggat/proto/backend.hpp"
#include "pool/pump.hpp"

namespace pggat::pool {
namespace {

// Runs the middlewares that declared a message type, and collects what they
// inject. Client messages pass them first to last, server messages last to first.
class MiddlewareRun final : public MiddlewareContext {
 public:
  MiddlewareRun(std::span<const std::unique_ptr<Middleware>> middlewares, const Client& client,
                proto::Conversation& state, bool from_client)
      : middlewares_(middlewares), client_(client), state_(state), from_client_(from_client) {
    for (const auto& m : middlewares_) {
      const proto::TypeSet types = from_client ? m->client_types() : m->server_types();
      for (int t = 0; t < 256; ++t)
        if (types.contains(static_cast<char>(t))) types_.add(static_cast<char>(t));
    }
  }

  [[nodiscard]] bool wants(char type) const { return types_.contains(type); }
  [[nodiscard]] Injections* injections() { return middlewares_.empty() ? nullptr : &injections_; }

  // False when a middleware stopped the message.
  bool run(char type, proto::Bytes body) {
    const proto::Frame frame{type, body};
    const std::size_t n = middlewares_.size();
    for (std::size_t i = 0; i < n; ++i) {
      Middleware& m = *middlewares_[from_client_ ? i : n - 1 - i];
      const proto::TypeSet types = from_client_ ? m.client_types() : m.server_types();
      if (!types.contains(type)) continue;
      const FilterStatus status = from_client_ ? m.on_client_message(frame, *this)
                                               : m.on_server_message(frame, *this);
      if (status == FilterStatus::Stop) return false;
    }
    return true;
  }

  void send_to_client(proto::Bytes message) override {
    proto::append(from_client_ ? injections_.reply : injections_.forward, message);
  }
  void send_to_server(proto::Bytes message) override {
    proto::append(from_client_ ? injections_.forward : injections_.reply, message);
    // The server will answer what is injected: keep the bookkeeping right.
    proto::Bytes rest = message;
    const proto::FrameRules any{proto::Direction::frontend,
                                proto::TypeSet::all_of(proto::frontend_messages),
                                proto::default_max_message_length};
    for (;;) {
      const auto f = proto::decode_frame(rest, any);
      if (f.status != proto::DecodeStatus::ok) break;
      state_.on_client(f.frame.type);
      rest = rest.subspan(f.consumed);
    }
  }
  [[nodiscard]] const Client& client() const override { return client_; }

 private:
  std::span<const std::unique_ptr<Middleware>> middlewares_;
  const Client& client_;
  proto::Conversation& state_;
  bool from_client_;
  proto::TypeSet types_;
  Injections injections_;
};

// Client to server: everything passes except Terminate, which ends the session
// without closing the server.
class ClientInspector {
 public:
  ClientInspector(proto::Conversation& state, MiddlewareRun& middlewares)
      : state_(state), middlewares_(middlewares) {}
  bool needs_whole(char type) const { return middlewares_.wants(type); }
  FrameAction on_frame(char type, proto::Bytes body) {
    if (type == 'X') return FrameAction::stop;
    if (middlewares_.wants(type) && !middlewares_.run(type, body)) return FrameAction::drop;
    state_.on_client(type);
    return FrameAction::forward;
  }
  Injections* injections() { return middlewares_.injections(); }

 private:
  proto::Conversation& state_;
  MiddlewareRun& middlewares_;
};

// Server to client: everything passes; parameters, transaction state and
// FATAL errors are noted on the way.
class ServerInspector {
 public:
  ServerInspector(backend::ServerConnection& server, MiddlewareRun& middlewares)
      : server_(server), middlewares_(middlewares) {}
  bool needs_whole(char type) const {
    return type == 'S' || type == 'Z' || type == 'E' || middlewares_.wants(type);
  }
  FrameAction on_frame(char type, proto::Bytes body) {
    server_.observe_server_message(type, body);
    if (type == 'E') {
      if (const auto e = proto::be::ErrorResponse::decode(body); e && e->to_pg_error().is_fatal())
        sent_fatal_ = true;
    }
    if (middlewares_.wants(type) && !middlewares_.run(type, body)) return FrameAction::drop;
    return FrameAction::forward;
  }
  Injections* injections() { return middlewares_.injections(); }
  [[nodiscard]] bool sent_fatal() const { return sent_fatal_; }

 private:
  backend::ServerConnection& server_;
  MiddlewareRun& middlewares_;
  bool sent_fatal_ = false;
};

std::string server_name(const backend::ServerConnection& s) { return s.address.to_string(); }

// Which way a pump ran, so the stop rule below can tell the two apart.
struct DirectedResult {
  bool to_server = false;
  PumpResult result;
};

template <class Inspector>
asio::awaitable<DirectedResult> directed(bool to_server, net::Connection& src,
                                         net::Connection& dst, const proto::FrameRules& rules,
                                         Inspector& inspector, PumpState& state) {
  co_return DirectedResult{to_server, co_await pump(src, dst, rules, inspector, state)};
}

// When one direction ends, the other is stopped — except when writing to the
// server failed: the server is going away, and what it said last (often a
// FATAL saying why) must still reach the client, so that direction runs on
// until the server's end of file.
struct StopRule {
  asio::cancellation_type_t operator()(const std::exception_ptr& e, const DirectedResult& r) const {
    if (!e && r.to_server && r.result.end == PumpEnd::sink_failed) return asio::cancellation_type::none;
    return asio::cancellation_type::all;
  }
};

}  // namespace

asio::awaitable<RelayOutcome> relay_session(
    detail::ClientSession& client, backend::ServerConnection& server,
    std::span<const std::unique_ptr<Middleware>> middlewares) {
  const proto::FrameRules client_rules{proto::Direction::frontend, proto::states::frontend_ready,
                                       client.facts.max_message_size};
  const proto::FrameRules server_rules{proto::Direction::backend, proto::states::backend_ready,
                                       proto::default_max_message_length};
  MiddlewareRun client_side(middlewares, client.client, server.state, true);
  MiddlewareRun server_side(middlewares, client.client, server.state, false);
  ClientInspector to_server(server.state, client_side);
  ServerInspector to_client(server, server_side);
  PumpState up, down;

  const auto executor = co_await asio::this_coro::executor;
  auto [order, up_error, up_result, down_error, down_result] =
      co_await asio::experimental::make_parallel_group(
          asio::co_spawn(executor,
                         directed(true, client.conn, server.conn, client_rules, to_server, up),
                         asio::experimental::deferred),
          asio::co_spawn(executor,
                         directed(false, server.conn, client.conn, server_rules, to_client, down),
                         asio::experimental::deferred))
          .async_wait(StopRule{}, asio::use_awaitable);
  if (up_error) std::rethrow_exception(up_error);
  if (down_error) std::rethrow_exception(down_error);

  // A pump cut short mid-message leaves the server's stream unparseable.
  if (up.writing || up.streaming || down.streaming) server.torn = true;

  RelayOutcome out;
  const bool up_first = order[0] == 0;
  if (up_first && up_result.result.end != PumpEnd::sink_failed) {
    const PumpResult& r = up_result.result;
    switch (r.end) {
      case PumpEnd::stopped:
        out.end = RelayOutcome::End::client_terminated;
        break;
      case PumpEnd::source_closed:
        out.end = RelayOutcome::End::client_gone;
        out.detail = r.ec.message();
        break;
      case PumpEnd::protocol_error:
        out.end = RelayOutcome::End::client_protocol_error;
        out.detail = proto::describe(r.frame_error, proto::Direction::frontend, r.header);
        out.client_error = PgError::fatal(sqlstate::protocol_violation, out.detail);
        break;
      case PumpEnd::sink_failed:
        break;  // handled below, with what the server said last
    }
  } else {
    const PumpResult& r = down_result.result;
    switch (r.end) {
      case PumpEnd::sink_failed:
        out.end = RelayOutcome::End::client_gone;
        out.detail = r.ec.message();
        break;
      case PumpEnd::protocol_error:
        out.end = RelayOutcome::End::server_gone;
        out.detail = "server " + server_name(server) + " sent " +
                     proto::describe(r.frame_error, proto::Direction::backend, r.header);
        break;
      case PumpEnd::source_closed:
      case PumpEnd::stopped:
        out.end = RelayOutcome::End::server_gone;
        out.detail = "server " + server_name(server) + " closed the connection: " + r.ec.message();
        break;
    }
  }
  if (out.end == RelayOutcome::End::server_gone) {
    server.torn = true;
    if (!to_client.sent_fatal())
      out.client_error = PgError::fatal(
          sqlstate::connection_failure,
          "lost the connection to server " + server_name(server) + "; the session cannot continue");
  }
  co_return out;
}

}  // namespace pggat::pool
