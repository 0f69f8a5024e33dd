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

// Client to server: everything passes except Terminate, which ends the session
// without closing the server.
class ClientInspector {
 public:
  explicit ClientInspector(proto::Conversation& state) : state_(state) {}
  bool needs_whole(char) const { return false; }
  FrameAction on_frame(char type, proto::Bytes) {
    if (type == 'X') return FrameAction::stop;
    state_.on_client(type);
    return FrameAction::forward;
  }

 private:
  proto::Conversation& state_;
};

// Server to client: everything passes; parameters, transaction state and
// FATAL errors are noted on the way.
class ServerInspector {
 public:
  explicit ServerInspector(backend::ServerConnection& server) : server_(server) {}
  bool needs_whole(char type) const { return type == 'S' || type == 'Z' || type == 'E'; }
  FrameAction on_frame(char type, proto::Bytes body) {
    server_.observe_server_message(type, body);
    if (type == 'E') {
      if (const auto e = proto::be::ErrorResponse::decode(body); e && e->to_pg_error().is_fatal())
        sent_fatal_ = true;
    }
    return FrameAction::forward;
  }
  [[nodiscard]] bool sent_fatal() const { return sent_fatal_; }

 private:
  backend::ServerConnection& server_;
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

asio::awaitable<RelayOutcome> relay_session(detail::ClientSession& client,
                                            backend::ServerConnection& server) {
  const proto::FrameRules client_rules{proto::Direction::frontend, proto::states::frontend_ready,
                                       client.facts.max_message_size};
  const proto::FrameRules server_rules{proto::Direction::backend, proto::states::backend_ready,
                                       proto::default_max_message_length};
  ClientInspector to_server(server.state);
  ServerInspector to_client(server);
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
