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
                                         Inspector& inspector, PumpState& state,
                                         PumpScratch& scratch) {
  // Cancelled pumps end through error codes, never mid-step by an exception:
  // the stop rule cancels one while its last write may still be completing.
  co_await asio::this_coro::throw_if_cancelled(false);
  co_return DirectedResult{to_server, co_await pump(src, dst, rules, inspector, state, scratch)};
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

// A pump as an operation of a parallel group.
template <class Inspector>
auto spawn_directed(const asio::any_io_executor& executor, bool to_server, net::Connection& src,
                    net::Connection& dst, const proto::FrameRules& rules, Inspector& inspector,
                    PumpState& state, PumpScratch& scratch) {
  return asio::co_spawn(executor, directed(to_server, src, dst, rules, inspector, state, scratch),
                        asio::experimental::deferred);
}

// relay_pair's two cases, each in a frame of its own size: the parallel
// group's operation and results are most of a frame, and the watched case's
// would sit unused in the common one's.
template <class UpInspector, class DownInspector>
asio::awaitable<void> pair_unwatched(net::Connection& client, net::Connection& server,
                                     const proto::FrameRules& client_rules,
                                     const proto::FrameRules& server_rules, UpInspector& up,
                                     DownInspector& down, PairScratch& scratch, PairResult& out) {
  const auto executor = co_await asio::this_coro::executor;
  auto [order, up_error, up_result, down_error, down_result] =
      co_await asio::experimental::make_parallel_group(
          spawn_directed(executor, true, client, server, client_rules, up, out.up_state, scratch.up),
          spawn_directed(executor, false, server, client, server_rules, down, out.down_state,
                         scratch.down))
          .async_wait(StopRule{}, asio::use_awaitable);
  if (up_error) std::rethrow_exception(up_error);
  if (down_error) std::rethrow_exception(down_error);
  out.up_ended_first = order[0] == 0;
  out.up = up_result.result;
  out.down = down_result.result;
}

template <class UpInspector, class DownInspector>
asio::awaitable<void> pair_watched(net::Connection& client, net::Connection& server,
                                   const proto::FrameRules& client_rules,
                                   const proto::FrameRules& server_rules, UpInspector& up,
                                   DownInspector& down, PairScratch& scratch, PairResult& out,
                                   std::chrono::nanoseconds client_idle_limit) {
  const auto executor = co_await asio::this_coro::executor;
  // The watchdog's result stands for the client pump's when it ends first.
  auto [order, up_error, up_result, down_error, down_result, idle_error, idle_result] =
      co_await asio::experimental::make_parallel_group(
          spawn_directed(executor, true, client, server, client_rules, up, out.up_state, scratch.up),
          spawn_directed(executor, false, server, client, server_rules, down, out.down_state,
                         scratch.down),
          asio::co_spawn(executor, watch_client_idle(up, out.up_state, client_idle_limit),
                         asio::experimental::deferred))
          .async_wait(StopRule{}, asio::use_awaitable);
  if (up_error) std::rethrow_exception(up_error);
  if (down_error) std::rethrow_exception(down_error);
  if (idle_error) std::rethrow_exception(idle_error);
  out.up_ended_first = order[0] == 0 || order[0] == 2;
  out.up = order[0] == 2 ? idle_result.result : up_result.result;
  out.down = down_result.result;
}

}  // namespace detail_relay

// What the two pumps did goes into `out` (the caller's: no frame holds a
// copy); `scratch` is theirs until it ends. With a `client_idle_limit`, a
// watchdog ends the client's side once it has been silent that long while
// the server waits on it.
template <class UpInspector, class DownInspector>
asio::awaitable<void> relay_pair(net::Connection& client, net::Connection& server,
                                 const proto::FrameRules& client_rules,
                                 const proto::FrameRules& server_rules, UpInspector& up,
                                 DownInspector& down, PairScratch& scratch, PairResult& out,
                                 std::chrono::nanoseconds client_idle_limit = {}) {
  out = PairResult{};
  if (client_idle_limit.count() > 0)
    return detail_relay::pair_watched(client, server, client_rules, server_rules, up, down, scratch,
                                      out, client_idle_limit);
  return detail_relay::pair_unwatched(client, server, client_rules, server_rules, up, down, scratch,
                                      out);
}

namespace detail_relay {

// relay_in_turns' turns: the client's request to the server, then the
// server's replies to the client while it owes any. It is the inspector of
// every turn too (pump_turns takes one type), answering as the turn's own.
template <class Up, class Down>
class InTurns {
 public:
  using Result = bool;  // finished
  InTurns(net::Connection& client, net::Connection& server, const proto::FrameRules& client_rules,
          const proto::FrameRules& server_rules, Up& up, Down& down,
          const proto::Conversation& conversation, PumpScratch& scratch, PairResult& out)
      : client_(client),
        server_(server),
        client_rules_(client_rules),
        server_rules_(server_rules),
        up_(up),
        down_(down),
        conversation_(conversation),
        scratch_(scratch),
        out_(out) {}

  // Turns.
  bool begin_turn() const { return phase_ != Phase::over; }
  net::Connection& source() { return on_up() ? client_ : server_; }
  net::Connection& sink() { return on_up() ? server_ : client_; }
  const proto::FrameRules& rules() const { return on_up() ? client_rules_ : server_rules_; }
  InTurns& inspector() { return *this; }
  PumpState& state() { return on_up() ? out_.up_state : out_.down_state; }
  // One for both: a turn's write is out before the next turn begins.
  PumpScratch& scratch() { return scratch_; }
  void end_turn(const PumpResult& result) {
    switch (phase_) {
      case Phase::up:
        out_.up = result;
        if (result.end != PumpEnd::yielded) {
          out_.up_ended_first = true;
          finished_ = true;
          phase_ = result.end == PumpEnd::sink_failed ? Phase::down_to_end : Phase::over;
          return;
        }
        phase_ = conversation_.awaiting_server() ? Phase::down : Phase::over;
        return;
      case Phase::down:
        out_.down = result;
        finished_ = result.end != PumpEnd::yielded;
        // Owing nothing, with the unit going on (in a transaction, after a
        // Flush): the client's next request.
        phase_ = finished_ ? Phase::over : Phase::up;
        return;
      case Phase::down_to_end:
        out_.down = result;
        phase_ = Phase::over;
        return;
      case Phase::over:
        return;
    }
  }
  bool result() const { return finished_; }

  // The pump's inspector.
  bool needs_whole(char type, std::size_t total) {
    return on_up() ? needs_whole_of(up_, type, total) : needs_whole_of(down_, type, total);
  }
  FrameAction on_frame(char type, proto::Bytes body) {
    return on_up() ? up_.on_frame(type, body) : down_.on_frame(type, body);
  }
  Injections* injections() { return on_up() ? up_.injections() : down_.injections(); }
  void on_streamed(char type) {
    if (on_up()) {
      if constexpr (requires { up_.on_streamed(type); }) up_.on_streamed(type);
    } else {
      if constexpr (requires { down_.on_streamed(type); }) down_.on_streamed(type);
    }
  }
  void on_consumed() {
    if (on_up()) {
      if constexpr (requires { up_.on_consumed(); }) up_.on_consumed();
    } else {
      if constexpr (requires { down_.on_consumed(); }) down_.on_consumed();
    }
  }
  // The client is read only while the server is idle and owes nothing; the
  // server only while it owes something.
  bool yield_before_read() const {
    switch (phase_) {
      case Phase::up:
        return conversation_.awaiting_server() || conversation_.copy_in();
      case Phase::down:
        return !conversation_.awaiting_server();
      case Phase::down_to_end:
      case Phase::over:
        break;
    }
    return false;
  }

 private:
  // up: the client's request; down: the replies, until nothing is owed;
  // down_to_end: what the server said after a write to it failed (often a
  // FATAL saying why) still goes out.
  enum class Phase { up, down, down_to_end, over };

  template <class Inner>
  static bool needs_whole_of(Inner& inner, char type, std::size_t total) {
    if constexpr (requires { inner.needs_whole(type, total); })
      return inner.needs_whole(type, total);
    else
      return inner.needs_whole(type);
  }
  bool on_up() const { return phase_ == Phase::up; }

  net::Connection& client_;
  net::Connection& server_;
  const proto::FrameRules& client_rules_;
  const proto::FrameRules& server_rules_;
  Up& up_;
  Down& down_;
  const proto::Conversation& conversation_;
  PumpScratch& scratch_;
  Phase phase_ = Phase::up;
  PairResult& out_;
  bool finished_ = false;
};

}  // namespace detail_relay

// relay_pair's results, for less: while `conversation` (the server's) allows,
// the two directions take turns in one coroutine (pump_turns). The client's
// request goes to the server, then the server's replies to the client until
// it owes nothing, then the client's next request if the unit goes on (a
// transaction's next statement), and neither side is read while it is not
// due. No second coroutine is started and no read is left pending to be
// cancelled, which is most of a short transaction's cost. Once the client is
// due while the server owes replies, or in COPY FROM STDIN, it returns false
// and the caller goes on with relay_pair (which starts `out` afresh); so it
// does at once when it wants a watchdog on an idle client. What the turns did
// goes into `out` (the caller's, so no frame holds a second copy); `scratch`
// is the turns' until it returns. True when the unit is over (or one side
// ended it). The price: the server is not read while it owes nothing, so a
// client that leaves while its server works is noticed when the reply is
// written to it, and what a server says unasked while its client idles in a
// transaction (a FATAL from idle_in_transaction_session_timeout or
// pg_terminate_backend, before it closes) reaches the client with the answer
// to its next message rather than at once. The server is the client's for
// the transaction either way.
template <class UpInspector, class DownInspector>
asio::awaitable<bool> relay_in_turns(net::Connection& client, net::Connection& server,
                                     const proto::FrameRules& client_rules,
                                     const proto::FrameRules& server_rules, UpInspector& up,
                                     DownInspector& down, const proto::Conversation& conversation,
                                     PumpScratch& scratch, PairResult& out) {
  return pump_turns(detail_relay::InTurns<UpInspector, DownInspector>(
      client, server, client_rules, server_rules, up, down, conversation, scratch, out));
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
