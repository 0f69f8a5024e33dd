// Pump: forwards framed messages from one connection to another, in place.
#pragma once

#include <array>
#include <cstdint>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/this_coro.hpp>

#include "net/connection.hpp"
#include "pggat/error.hpp"
#include "pggat/proto/frame.hpp"
#include "pool/unit_buffers.hpp"

namespace pggat::pool {

enum class PumpEnd {
  stopped,         // the inspector asked to stop (after dropping that message)
  yielded,         // the inspector's yield_before_read() said to stop before reading
  source_closed,   // EOF or read error on the source
  sink_failed,     // write error on the destination
  protocol_error,  // the source sent a malformed or out-of-place message
};

struct PumpResult {
  PumpResult() = default;
  PumpResult(PumpEnd e, std::error_code code, proto::FrameHeader h = {},
             proto::FrameError fe = proto::FrameError::none)
      : end(e), ec(code), header(h), frame_error(fe) {}

  PumpEnd end = PumpEnd::stopped;
  std::error_code ec;
  proto::FrameHeader header;  // the offending message, for protocol errors
  proto::FrameError frame_error = proto::FrameError::none;
};

// forward: pass it on; drop: leave it out; stop: leave it out and end the pump;
// last: pass it on, then end the pump (nothing after it is consumed).
enum class FrameAction { forward, drop, stop, last };

// Where a pump is, so its owner can tell, if the pump is cut short, whether a
// byte stream was left in the middle of a message.
struct PumpState {
  bool writing = false;    // a write to the destination is in flight
  bool streaming = false;  // a message larger than the buffer is half forwarded
  std::uint64_t reads = 0;  // successful reads from the source, to tell it is silent
};

// Injections (what an inspector writes besides the messages it passes) and
// PumpScratch: see unit_buffers.hpp.

// Messages are parsed in the source's receive buffer and forwarded from it
// with one gathered write per read; nothing is copied or allocated per message.
// What the inspector injects goes into the same write, in its place among
// the messages. A message larger than the buffer is streamed through in
// pieces, unless the inspector needs it whole.
//
// Inspector:
//   bool needs_whole(char type) const;           // see the body of this type
//     or needs_whole(char type, size_t total)    // ... knowing its size
//   FrameAction on_frame(char type, Bytes body);  // body empty if streamed
//   Injections* injections();                     // null when it never injects
// and optionally:
//   void on_streamed(char type);  // before on_frame of a message streamed through
//   void on_consumed();           // the messages inspected so far left the source's buffer
//   bool yield_before_read();     // true: end (PumpEnd::yielded) instead of reading
//                                 // the source, between messages only
//
// pump_turns runs such pumps one after the other in one coroutine frame: a
// unit's request and then its replies without a frame for each. Turns says
// which, and keeps what they give:
//   using Result;                       // what pump_turns yields
//   bool begin_turn();                  // false: no more turns
//   net::Connection& source(), sink();  // the current turn's ends
//   const proto::FrameRules& rules();
//   Inspector& inspector();             // one type for every turn
//   PumpState& state();
//   PumpScratch& scratch();             // the segment list, outside the frame
//   void end_turn(const PumpResult&);   // how the current turn ended
//   Result result();
namespace detail_pump {

// Writes are gated: with middlewares, the other direction may write to the
// same connection (a reply on behalf of the server, say).
template <class Buffers>
asio::awaitable<std::error_code> write_gated(net::Connection& to, Buffers buffers) {
  bool held = to.gate.try_enter();
  if (!held) held = co_await to.gate.enter();
  net::GateHold hold(to.gate, held);
  if (!held) co_return make_error_code(errc::canceled);
  auto [ec, n] = co_await net::write_soon(to.stream, buffers);
  co_return ec;
}

// A turn's segment list and where it stands: plain calls, so that the
// pump's frame holds one of these and no closure per helper.
class Segments {
 public:
  using Segment = PumpScratch::Segment;
  Segments(PumpScratch& scratch, Injections* injections, PumpState& state)
      : scratch_(scratch), injections_(injections), state_(state) {}

  [[nodiscard]] std::size_t size() const { return count_; }
  [[nodiscard]] bool full() const { return count_ == PumpScratch::max_segments; }
  // Room for two is made before each message, the most one message adds.
  [[nodiscard]] bool room_for_two() const { return count_ + 2 <= PumpScratch::max_segments; }
  // Bytes [from, to) of the receive buffer's `data`, as they are.
  void add_run(proto::Bytes data, std::size_t from, std::size_t to) {
    add(Segment{data.data(), from, to - from});
  }
  // Whether the inspector injected bytes not yet in the list.
  [[nodiscard]] bool injected_more() const {
    return injections_ != nullptr && injections_->forward.size() > injected_added_;
  }
  void add_injected() {
    const std::size_t from = injected_added_;
    injected_added_ = injections_->forward.size();
    add(Segment{nullptr, from, injected_added_ - from});
  }
  // The segments as buffers, for one gathered write (which is then in flight).
  std::span<asio::const_buffer> gather() {
    for (std::size_t i = 0; i < count_; ++i) {
      const Segment& g = scratch_.segments[i];
      scratch_.buffers[i] = asio::buffer(
          (g.base != nullptr ? g.base : injections_->forward.data()) + g.offset, g.size);
    }
    state_.writing = true;
    return {scratch_.buffers.data(), count_};
  }
  void written() {
    state_.writing = false;
    count_ = 0;
    if (injected_added_ > 0) {
      // Bytes injected since the last segment was added stay for the next.
      injections_->forward.erase(
          injections_->forward.begin(),
          injections_->forward.begin() + static_cast<std::ptrdiff_t>(injected_added_));
      injected_added_ = 0;
    }
  }

 private:
  void add(const Segment& g) {
    if (g.size > 0) scratch_.segments[count_++] = g;
  }

  PumpScratch& scratch_;
  Injections* injections_;
  PumpState& state_;
  std::size_t count_ = 0;
  std::size_t injected_added_ = 0;  // bytes of injections_->forward already in segments
};

// For the rarer writes (a full segment list, a streamed message); the
// common one, once per pass, is written out in pump_turns without a frame of
// its own.
inline asio::awaitable<std::error_code> write_segments(net::Connection& dst, Segments& segments) {
  if (segments.size() == 0) co_return std::error_code{};
  const auto ec = co_await write_gated(dst, segments.gather());
  segments.written();
  co_return ec;
}

// What a read brought: an error, EOF, or bytes now in the buffer.
inline std::error_code received(net::RecvBuffer& in, PumpState& state, std::error_code ec,
                                std::size_t n) {
  if (ec) return ec;
  ++state.reads;
  if (n == 0) return make_error_code(errc::connection_closed);
  in.commit(n);
  return std::error_code{};
}

// A cancel that came while a pump was busy writing would not reach the read
// about to start: it is honoured before each read.
inline bool cancelled(const asio::cancellation_state& cs) {
  return cs.cancelled() != asio::cancellation_type::none;
}

inline asio::awaitable<std::error_code> read_more(net::Connection& src, PumpState& state) {
  if (cancelled(co_await asio::this_coro::cancellation_state))
    co_return make_error_code(errc::canceled);
  net::IoResult read;
  co_await src.stream.receive(src.in.prepare(), read);
  co_return received(src.in, state, std::get<0>(read), std::get<1>(read));
}

template <class Inspector>
bool needs_whole(Inspector& inspector, char type, std::size_t total) {
  if constexpr (requires { inspector.needs_whole(type, total); })
    return inspector.needs_whole(type, total);
  else
    return inspector.needs_whole(type);
}

}  // namespace detail_pump

template <class Turns>
asio::awaitable<typename Turns::Result> pump_turns(Turns turns) {
  using detail_pump::Segments;
  while (turns.begin_turn()) {
    PumpResult turn_result;  // set before each `goto turn_end`
    net::Connection& src = turns.source();
    net::Connection& dst = turns.sink();
    const proto::FrameRules& rules = turns.rules();
    auto& inspector = turns.inspector();
    PumpState& state = turns.state();
    net::RecvBuffer& in = src.in;
    Injections* const injections = inspector.injections();
    Segments segments(turns.scratch(), injections, state);

    // Whether the last pass consumed something; bytes already buffered (read
    // with the startup packet, say) are handled before the first read.
    bool progressed = !in.empty();
    for (;;) {
      // Read when nothing is buffered or the buffered bytes are not yet a
      // message; otherwise handle what is there first (after a streamed message,
      // the next ones may already be waiting).
      if (in.empty() || !progressed) {
        if constexpr (requires { inspector.yield_before_read(); })
          if (inspector.yield_before_read()) {
            turn_result = PumpResult{PumpEnd::yielded, {}};
            goto turn_end;
          }
        // read_more(), without the frame of a call.
        if (detail_pump::cancelled(co_await asio::this_coro::cancellation_state)) {
          turn_result = PumpResult{PumpEnd::source_closed, make_error_code(errc::canceled)};
          goto turn_end;
        }
        net::IoResult read;
        co_await src.stream.receive(in.prepare(), read);
        if (const auto ec = detail_pump::received(in, state, std::get<0>(read), std::get<1>(read))) {
          turn_result = PumpResult{PumpEnd::source_closed, ec};
          goto turn_end;
        }
      }

      const proto::Bytes data = in.data();
      std::size_t pos = 0;  // parsed up to here
      std::size_t run = 0;  // start of the current forward run
      std::size_t reserve = 0;
      std::size_t stream_left = 0;
      bool stop = false;
      bool failed = false;
      PumpResult error;

      while (pos < data.size()) {
        if (!segments.room_for_two()) {
          const auto ec = co_await detail_pump::write_segments(dst, segments);
          if (ec) {
            turn_result = PumpResult{PumpEnd::sink_failed, ec};
            goto turn_end;
          }
        }
        const proto::HeaderResult h = proto::decode_header(data.subspan(pos), rules);
        if (h.status == proto::DecodeStatus::need_more) break;
        if (h.status == proto::DecodeStatus::invalid) {
          error = PumpResult{PumpEnd::protocol_error, make_error_code(errc::protocol_violation),
                             h.header, h.error};
          failed = true;
          break;
        }
        const std::size_t total = h.header.total_size();
        if (data.size() - pos >= total) {
          const FrameAction action = inspector.on_frame(
              h.header.type, data.subspan(pos + proto::FrameHeader::size, h.header.body_size()));
          if (segments.injected_more()) {
            // Goes ahead of this message: the run before it, then the new bytes.
            segments.add_run(data, run, pos);
            segments.add_injected();
            run = pos;
          }
          if (action == FrameAction::drop || action == FrameAction::stop) {
            segments.add_run(data, run, pos);
            run = pos + total;
          }
          pos += total;
          if (action == FrameAction::stop || action == FrameAction::last) {
            stop = true;
            break;
          }
          continue;
        }
        if (detail_pump::needs_whole(inspector, h.header.type, total) ||
            total <= std::max(in.capacity(), net::RecvBuffer::default_capacity)) {
          reserve = total;  // after the write below: it may move the buffer
          break;
        }
        // Larger than the buffer and not needed whole: stream it through.
        if constexpr (requires { inspector.on_streamed(h.header.type); })
          inspector.on_streamed(h.header.type);
        (void)inspector.on_frame(h.header.type, {});
        stream_left = total - (data.size() - pos);
        pos = data.size();
        break;
      }

      {
        if (segments.full()) {
          const auto ec = co_await detail_pump::write_segments(dst, segments);
          if (ec) {
            turn_result = PumpResult{PumpEnd::sink_failed, ec};
            goto turn_end;
          }
        }
        segments.add_run(data, run, pos);
        if (stream_left > 0) state.streaming = true;
        if (segments.size() > 0) {
          // write_segments(), without the frame of a call.
          bool held = dst.gate.try_enter();
          if (!held) held = co_await dst.gate.enter();
          net::GateHold hold(dst.gate, held);
          std::error_code ec = make_error_code(errc::canceled);
          if (held) {
            // net::write_soon(), without the frame of a call: most replies go
            // out in the one sendmsg, and only the rest waits.
            const auto rest = dst.stream.send_at_once(segments.gather(), ec);
            if (!rest.empty()) std::tie(ec, std::ignore) = co_await dst.stream.write(rest);
          }
          segments.written();
          if (ec) {
            turn_result = PumpResult{PumpEnd::sink_failed, ec};
            goto turn_end;
          }
        }
      }
      in.consume(pos);
      if constexpr (requires { inspector.on_consumed(); }) inspector.on_consumed();
      if (injections != nullptr && !injections->reply.empty()) {
        const auto ec = co_await detail_pump::write_gated(src, asio::buffer(injections->reply));
        injections->reply.clear();
        if (ec) {
          turn_result = PumpResult{PumpEnd::source_closed, ec};
          goto turn_end;
        }
      }
      if (failed) {
        turn_result = error;
        goto turn_end;
      }
      if (stop) {
        turn_result = PumpResult{PumpEnd::stopped, {}};
        goto turn_end;
      }
      progressed = pos > 0;
      if (reserve > 0) in.reserve_message(reserve);

      while (stream_left > 0) {
        if (in.empty()) {
          const auto ec = co_await detail_pump::read_more(src, state);
          if (ec) {
            turn_result = PumpResult{PumpEnd::source_closed, ec};
            goto turn_end;
          }
        }
        const std::size_t n = std::min(stream_left, in.size());
        segments.add_run(in.data(), 0, n);
        const auto ec = co_await detail_pump::write_segments(dst, segments);
        if (ec) {
          turn_result = PumpResult{PumpEnd::sink_failed, ec};
          goto turn_end;
        }
        in.consume(n);
        stream_left -= n;
      }
      state.streaming = false;
    }
  // The turn's ends; a label, as the body's many ends were its co_returns
  // when it was a pump of its own.
  turn_end:
    turns.end_turn(turn_result);
  }
  co_return turns.result();
}

// A single pump: one turn.
template <class Inspector>
class OneTurn {
 public:
  using Result = PumpResult;
  OneTurn(net::Connection& src, net::Connection& dst, const proto::FrameRules& rules,
          Inspector& inspector, PumpState& state, PumpScratch& scratch)
      : src_(src), dst_(dst), rules_(rules), inspector_(inspector), state_(state), scratch_(scratch) {}

  bool begin_turn() const { return !ended_; }
  net::Connection& source() { return src_; }
  net::Connection& sink() { return dst_; }
  const proto::FrameRules& rules() const { return rules_; }
  Inspector& inspector() { return inspector_; }
  PumpState& state() { return state_; }
  PumpScratch& scratch() { return scratch_; }
  void end_turn(const PumpResult& result) {
    result_ = result;
    ended_ = true;
  }
  PumpResult result() const { return result_; }

 private:
  net::Connection& src_;
  net::Connection& dst_;
  const proto::FrameRules& rules_;
  Inspector& inspector_;
  PumpState& state_;
  PumpScratch& scratch_;
  PumpResult result_;
  bool ended_ = false;
};

// Forwards from `src` to `dst` until the inspector stops or yields, or one
// end fails (see above); `scratch` is the pump's until it ends.
template <class Inspector>
asio::awaitable<PumpResult> pump(net::Connection& src, net::Connection& dst,
                                 const proto::FrameRules& rules, Inspector& inspector,
                                 PumpState& state, PumpScratch& scratch) {
  return pump_turns(OneTurn<Inspector>(src, dst, rules, inspector, state, scratch));
}

}  // namespace pggat::pool
