// Server upkeep between clients: finish what the last client left, the reset query, the idle check.
#include "pool/server_reset.hpp"

#include "net/deadline.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"

namespace pggat::pool {
namespace {

// Messages whose bodies cleanup looks at; everything else may be skipped unread.
constexpr proto::TypeSet inspected{'Z', 'E', 'S', 'G', 'H', 'W', 'c'};

void copy_fail(backend::ServerConnection& server) {
  proto::fe::CopyFail{"client disconnected"}.encode(server.conn.out);
  server.state.on_client('f');
}

asio::awaitable<bool> send_query(backend::ServerConnection& server, std::string_view sql) {
  proto::fe::Query{sql}.encode(server.conn.out);
  server.state.on_client('Q');
  const auto ec = co_await net::flush(server.conn);
  co_return !ec;
}

asio::awaitable<bool> reset_steps(backend::ServerConnection& server, const std::string& reset_query) {
  // Results are bound to variables before they are tested: g++ 12 miscompiles
  // a co_await used directly as an if condition (see docs/architecture.md).
  if (server.torn) co_return false;
  if (server.state.copy_in()) copy_fail(server);
  if (server.state.unsynced()) {
    proto::fe::Sync{}.encode(server.conn.out);
    server.state.on_client('S');
  }
  const auto flushed = co_await net::flush(server.conn);
  if (flushed) co_return false;
  bool ok = co_await drain_server(server, false);
  if (!ok) co_return false;
  if (server.state.transaction_status() != 'I') {
    ok = co_await send_query(server, "ROLLBACK");
    if (ok) ok = co_await drain_server(server, true);
    if (!ok) co_return false;
  }
  if (!reset_query.empty()) {
    ok = co_await send_query(server, reset_query);
    if (ok) ok = co_await drain_server(server, true);
    if (!ok) co_return false;
  }
  co_return server.state.idle();
}

asio::awaitable<bool> check_steps(backend::ServerConnection& server) {
  bool ok = co_await send_query(server, "");
  if (ok) ok = co_await drain_server(server, true);
  co_return ok && server.state.idle();
}

}  // namespace

asio::awaitable<bool> drain_server(backend::ServerConnection& server, bool errors_fail) {
  bool failed = false;
  while (server.state.pending_ready() > 0) {
    net::ReadFrameResult r =
        co_await net::read_frame(server.conn, backend::server_frame_rules, inspected);
    if (r.ec) co_return false;
    if (r.skipped) {
      server.state.on_server(r.frame.type, {});
      continue;
    }
    const proto::Frame f = r.frame;
    server.observe_server_message(f.type, f.body);
    if (f.type == 'E') {
      const auto e = proto::be::ErrorResponse::decode(f.body);
      if (!e || e->to_pg_error().is_fatal()) co_return false;
      failed = true;
    } else if (f.type == 'G') {
      // A COPY FROM STDIN the client started and never fed.
      copy_fail(server);
      const auto ec = co_await net::flush(server.conn);
      if (ec) co_return false;
    }
    server.conn.in.consume(f.total_size());
  }
  co_return !(errors_fail && failed);
}

asio::awaitable<bool> reset_server(backend::ServerConnection& server, const std::string& reset_query,
                                   std::chrono::nanoseconds timeout) {
  auto ok = co_await net::with_timeout(reset_steps(server, reset_query), timeout);
  co_return ok.value_or(false);
}

asio::awaitable<bool> check_server(backend::ServerConnection& server,
                                  std::chrono::nanoseconds timeout) {
  auto ok = co_await net::with_timeout(check_steps(server), timeout);
  co_return ok.value_or(false);
}

}  // namespace pggat::pool
