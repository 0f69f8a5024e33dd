// relay_pair: a client->server pump and a server->client pump run side by side.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <asio/steady_timer.hpp>

#include "pggat/pg_error.hpp"
#include "pool/pump.hpp"
#include "proto/conversation.hpp"

namespace pggat::pool {

struct PairResult {
  bool up_ended_first = false;  // the client->server pump finished first
  PumpResult up;
  PumpResult down;
  PumpState up_state;
  PumpState down_state;
  // A pump cut short mid-message leaves the server's stream unparseable.
  [[nodiscard]] bool server_torn() const {
    return up_state.writing || up_state.streaming || down_state.streaming;
  }
  [[nodiscard]] bool client_torn() const { return down_state.writing || down_state.streaming; }
};

// How a relay ended, told from the two pumps' results. Which pump ended first
// decides: a client pump that stopped means the client said goodbye, and so on.
struct PairEnd {
  enum class Kind {
    client_terminated,  // Terminate
    client_gone,        // EOF or I/O error on the client
    client_protocol_error,
    server_gone,        // the server closed, failed or spoke nonsense
    server_stopped,     // the server pump stopped on purpose (its inspector said so)
    client_idle,        // the client kept the server waiting past its read timeout
  };
  Kind kind = Kind::client_terminated;
  std::string detail;                    // for the log
  std::shared_ptr<const PgError> client_error;  // for protocol errors (see UnitOutcome)
};

namespace detail_relay {

struct DirectedResult {
  bool to_server = false;
  PumpResult result;
};

template <class Inspector>
asio::awaitable<DirectedResult> directed(bool to_server, net::Connection& src,
                                         net::Connection& dst, const proto::FrameRules& rules,
                                         Inspector& inspector, PumpState& state) {
  // Cancelled pumps end through error codes, never mid-step by an exception:
  // the stop rule cancels one while its last write may still be completing.
  co_await asio::this_coro::throw_if_cancelled(false);
  co_return DirectedResult{to_server, co_await pump(src, dst, rules, inspector, state)};
}

// Ends (as the client pump would, with errc::timeout) once the client has
// been silent for `limit` while `up` says the server waits on it; checked four
// times per limit, so the cut comes between limit and 1.25 x limit.
template <class UpInspector>
asio::awaitable<DirectedResult> watch_client_idle(const UpInspector& up, const PumpState& client,
                                                  std::chrono::nanoseconds limit) {
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto step = std::max<std::chrono::nanoseconds>(limit / 4, std::chrono::milliseconds(1));
  std::uint64_t reads = client.reads;
  std::chrono::nanoseconds idle{0};
  for (;;) {
    timer.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(step));
    const auto [ec] = co_await timer.async_wait(net::use_nothrow);
    if (ec) co_return DirectedResult{true, PumpResult{PumpEnd::stopped, ec}};  // the relay ended
    if (client.reads != reads || !up.waiting_on_client()) {
      reads = client.reads;
      idle = std::chrono::nanoseconds{0};
      continue;
    }
    idle += step;
    if (idle >= limit)
      co_return DirectedResult{true, PumpResult{PumpEnd::source_closed, make_error_code(errc::timeout)}};
  }
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

}  // namespace detail_relay

template <class UpInspector, class DownInspector>
asio::awaitable<PairResult> relay_pair(net::Connection& client, net::Connection& server,
                                       const proto::FrameRules& client_rules,
                                       const proto::FrameRules& server_rules, UpInspector& up,
                                       DownInspector& down,
                                       std::chrono::nanoseconds client_idle_limit = {}) {
  using detail_relay::directed;
  PairResult out;
  const auto executor = co_await asio::this_coro::executor;
  auto up_pump = [&] {
    return asio::co_spawn(executor, directed(true, client, server, client_rules, up, out.up_state),
                          asio::experimental::deferred);
  };
  auto down_pump = [&] {
    return asio::co_spawn(executor,
                          directed(false, server, client, server_rules, down, out.down_state),
                          asio::experimental::deferred);
  };
  if (client_idle_limit.count() > 0) {
    // The watchdog's result stands for the client pump's when it ends first.
    auto [order, up_error, up_result, down_error, down_result, idle_error, idle_result] =
        co_await asio::experimental::make_parallel_group(
            up_pump(), down_pump(),
            asio::co_spawn(executor,
                           detail_relay::watch_client_idle(up, out.up_state, client_idle_limit),
                           asio::experimental::deferred))
            .async_wait(detail_relay::StopRule{}, asio::use_awaitable);
    if (up_error) std::rethrow_exception(up_error);
    if (down_error) std::rethrow_exception(down_error);
    if (idle_error) std::rethrow_exception(idle_error);
    out.up_ended_first = order[0] == 0 || order[0] == 2;
    out.up = order[0] == 2 ? idle_result.result : up_result.result;
    out.down = down_result.result;
    co_return out;
  }
  auto [order, up_error, up_result, down_error, down_result] =
      co_await asio::experimental::make_parallel_group(up_pump(), down_pump())
          .async_wait(detail_relay::StopRule{}, asio::use_awaitable);
  if (up_error) std::rethrow_exception(up_error);
  if (down_error) std::rethrow_exception(down_error);
  out.up_ended_first = order[0] == 0;
  out.up = up_result.result;
  out.down = down_result.result;
  co_return out;
}

namespace detail_relay {

// The inner inspector, plus an end (PumpEnd::yielded) before a read when
// `yield` says so.
template <class Inner, class Yield>
class YieldingInspector {
 public:
  YieldingInspector(Inner& inner, Yield yield) : inner_(inner), yield_(std::move(yield)) {}

  bool needs_whole(char type, std::size_t total) {
    if constexpr (requires { inner_.needs_whole(type, total); })
      return inner_.needs_whole(type, total);
    else
      return inner_.needs_whole(type);
  }
  FrameAction on_frame(char type, proto::Bytes body) { return inner_.on_frame(type, body); }
  Injections* injections() { return inner_.injections(); }
  void on_streamed(char type) {
    if constexpr (requires { inner_.on_streamed(type); }) inner_.on_streamed(type);
  }
  void on_consumed() {
    if constexpr (requires { inner_.on_consumed(); }) inner_.on_consumed();
  }
  bool yield_before_read() { return yield_(); }

 private:
  Inner& inner_;
  Yield yield_;
};

}  // namespace detail_relay

// relay_pair's results, for less: while `conversation` (the server's) allows,
// the two pumps take turns on this coroutine. The client's request goes to
// the server, then the server's replies to the client until it owes nothing,
// and neither side is read while it is not due. No second coroutine is
// started and no read is left pending to be cancelled, which is most of a
// short transaction's cost. Once the client is due while the unit goes on (in
// a transaction, in COPY FROM STDIN, after a Flush) or a watchdog on it is
// wanted, relay_pair takes over. The price: a client that leaves while its
// server works is noticed when the reply is written to it, not at once; the
// server finishes the statement and is released as after any unit.
template <class UpInspector, class DownInspector>
asio::awaitable<PairResult> relay_in_turns(net::Connection& client, net::Connection& server,
                                           const proto::FrameRules& client_rules,
                                           const proto::FrameRules& server_rules, UpInspector& up,
                                           DownInspector& down, const proto::Conversation& conversation,
                                           std::chrono::nanoseconds client_idle_limit = {}) {
  using detail_relay::YieldingInspector;
  if (client_idle_limit.count() == 0) {
    PairResult out;
    // The client is read only while the server is idle and owes nothing.
    auto server_due = [&conversation] {
      return conversation.awaiting_server() || conversation.transaction_status() != 'I' ||
             conversation.copy_in();
    };
    YieldingInspector up_turn(up, server_due);
    out.up = co_await pump(client, server, client_rules, up_turn, out.up_state);
    if (out.up.end != PumpEnd::yielded) {
      out.up_ended_first = true;
      // What the server said last (often a FATAL saying why) still goes out.
      if (out.up.end == PumpEnd::sink_failed)
        out.down = co_await pump(server, client, server_rules, down, out.down_state);
      co_return out;
    }
    if (conversation.awaiting_server()) {
      YieldingInspector down_turn(down, [&conversation] { return !conversation.awaiting_server(); });
      out.down = co_await pump(server, client, server_rules, down_turn, out.down_state);
      if (out.down.end != PumpEnd::yielded) co_return out;
    }
  }
  co_return co_await relay_pair(client, server, client_rules, server_rules, up, down, client_idle_limit);
}

// `server_name()` gives the server's name for the detail; called only when
// the detail names it (formatting an address for every unit costs).
template <class ServerName>
PairEnd classify(const PairResult& pair, ServerName&& server_name) {
  PairEnd out;
  using Kind = PairEnd::Kind;
  if (pair.up_ended_first && pair.up.end != PumpEnd::sink_failed) {
    const PumpResult& r = pair.up;
    switch (r.end) {
      case PumpEnd::stopped:
        out.kind = Kind::client_terminated;
        break;
      case PumpEnd::source_closed:
        if (r.ec == make_error_code(errc::timeout)) {
          out.kind = Kind::client_idle;
          out.detail = "idle in transaction for longer than idle_transaction_timeout";
          out.client_error = std::make_shared<const PgError>(
              PgError::fatal("25P03", "terminating connection due to idle-in-transaction timeout"));
          break;
        }
        out.kind = Kind::client_gone;
        out.detail = r.ec.message();
        break;
      case PumpEnd::protocol_error:
        out.kind = Kind::client_protocol_error;
        out.detail = proto::describe(r.frame_error, proto::Direction::frontend, r.header);
        out.client_error =
            std::make_shared<const PgError>(PgError::fatal(sqlstate::protocol_violation, out.detail));
        break;
      case PumpEnd::sink_failed:
      case PumpEnd::yielded:  // never how a relay ends
        break;
    }
    return out;
  }
  // A failed write to the server lands here too: what the server said last
  // (often a FATAL saying why) was read to its end of file.
  const PumpResult& r = pair.down;
  switch (r.end) {
    case PumpEnd::sink_failed:
      out.kind = Kind::client_gone;
      out.detail = r.ec.message();
      break;
    case PumpEnd::protocol_error:
      out.kind = Kind::server_gone;
      out.detail = "server " + server_name() + " sent " +
                   proto::describe(r.frame_error, proto::Direction::backend, r.header);
      break;
    case PumpEnd::yielded:  // never how a relay ends
    case PumpEnd::stopped:
      if (!pair.up_ended_first) {
        out.kind = Kind::server_stopped;
        break;
      }
      [[fallthrough]];
    case PumpEnd::source_closed:
      out.kind = Kind::server_gone;
      out.detail = "server " + server_name() + " closed the connection: " + r.ec.message();
      break;
  }
  return out;
}

}  // namespace pggat::pool
