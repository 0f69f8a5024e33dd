// Session relay: client and server pumps running side by side until one ends.
#include "pool/session_relay.hpp"

#include "pggat/proto/backend.hpp"
#include "pool/middleware_run.hpp"
#include "pool/pump.hpp"
#include "pool/relay_pair.hpp"

namespace pggat::pool {
namespace {

// Client to server: everything passes except Terminate, which ends the session
// without closing the server.
class ClientInspector {
 public:
  ClientInspector(proto::Conversation& state, MiddlewareRun& middlewares, ClientMeter* meter)
      : state_(state), middlewares_(middlewares), meter_(meter) {}
  // The server waits on the client inside a transaction, an unsynced batch
  // or COPY FROM STDIN.
  bool waiting_on_client() const {
    if (state_.awaiting_server()) return false;
    return state_.transaction_status() != 'I' || state_.unsynced() || state_.copy_in();
  }
  bool needs_whole(char type) const { return middlewares_.wants(type); }
  FrameAction on_frame(char type, proto::Bytes body) {
    if (type == 'X') return FrameAction::stop;
    if (meter_ != nullptr) meter_->on_client_message();
    if (middlewares_.wants(type) && !middlewares_.run(type, body)) return FrameAction::drop;
    state_.on_client(type);
    return FrameAction::forward;
  }
  Injections* injections() { return middlewares_.injections(); }

 private:
  proto::Conversation& state_;
  MiddlewareRun& middlewares_;
  ClientMeter* meter_;
};

// Server to client: everything passes; parameters, transaction state and
// FATAL errors are noted on the way.
class ServerInspector {
 public:
  ServerInspector(backend::ServerConnection& server, MiddlewareRun& middlewares, ClientMeter* meter)
      : server_(server), middlewares_(middlewares), meter_(meter) {}
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
    if (type == 'Z' && meter_ != nullptr && !body.empty()) {
      meter_->on_ready(static_cast<char>(body[0]));
      // The session has no end of unit to count traffic at: up to here.
      meter_->settle_bytes();
    }
    return FrameAction::forward;
  }
  Injections* injections() { return middlewares_.injections(); }
  [[nodiscard]] bool sent_fatal() const { return sent_fatal_; }

 private:
  backend::ServerConnection& server_;
  MiddlewareRun& middlewares_;
  ClientMeter* meter_;
  bool sent_fatal_ = false;
};

std::string server_name(const backend::ServerConnection& s) { return s.address.to_string(); }

}  // namespace

asio::awaitable<RelayOutcome> relay_session(
    detail::ClientSession& client, backend::ServerConnection& server,
    std::span<const std::unique_ptr<Middleware>> middlewares,
    std::chrono::nanoseconds idle_transaction_timeout, ClientMeter* meter) {
  const proto::FrameRules client_rules{proto::Direction::frontend, proto::states::frontend_ready,
                                       client.facts.max_message_size};
  Injections up_injections, down_injections;
  MiddlewareRun client_side(middlewares, client.client, server.state, true, up_injections);
  MiddlewareRun server_side(middlewares, client.client, server.state, false, down_injections);
  ClientInspector to_server(server.state, client_side, meter);
  ServerInspector to_client(server, server_side, meter);
  PairScratch scratch;  // in this frame: it lasts the session
  PairResult pair;
  co_await relay_pair(client.conn, server.conn, client_rules, backend::server_frame_rules,
                      to_server, to_client, scratch, pair, idle_transaction_timeout);
  if (pair.server_torn()) server.torn = true;

  PairEnd end = classify(pair, [&] { return server_name(server); });
  RelayOutcome out;
  switch (end.kind) {
    case PairEnd::Kind::client_terminated:
      out.end = RelayOutcome::End::client_terminated;
      break;
    case PairEnd::Kind::client_gone:
      out.end = RelayOutcome::End::client_gone;
      break;
    case PairEnd::Kind::client_protocol_error:
    case PairEnd::Kind::client_idle:
      out.end = RelayOutcome::End::client_protocol_error;
      break;
    case PairEnd::Kind::server_gone:
    case PairEnd::Kind::server_stopped:
      out.end = RelayOutcome::End::server_gone;
      break;
  }
  out.detail = std::move(end.detail);
  out.client_error = std::move(end.client_error);
  if (out.end == RelayOutcome::End::server_gone) {
    server.torn = true;
    if (!to_client.sent_fatal())
      out.client_error = std::make_shared<const PgError>(PgError::fatal(
          sqlstate::connection_failure,
          "lost the connection to server " + server_name(server) + "; the session cannot continue"));
  }
  co_return out;
}

}  // namespace pggat::pool
