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

namespace pggat::pool {

enum class PumpEnd {
  stopped,         // the inspector asked to stop (after dropping that message)
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

// Bytes an inspector wants written besides the messages it passes: `forward`
// goes to the destination before the message being inspected, `reply` goes
// back to the source's own peer (the connection the pump reads from).
struct Injections {
  proto::Buffer forward;
  proto::Buffer reply;
  [[nodiscard]] bool empty() const { return forward.empty() && reply.empty(); }
};

// Messages are parsed in the source's receive buffer and forwarded from it
// with one gathered write per read; nothing is copied or allocated per message.
// A message larger than the buffer is streamed through in pieces, unless the
// inspector needs it whole.
//
// Inspector:
//   bool needs_whole(char type) const;           // see the body of this type
//     or needs_whole(char type, size_t total)    // ... knowing its size
//   FrameAction on_frame(char type, Bytes body);  // body empty if streamed
//   Injections* injections();                     // null when it never injects
// and optionally:
//   void on_streamed(char type);  // before on_frame of a message streamed through
//   void on_consumed();           // the messages inspected so far left the source's buffer
template <class Inspector>
asio::awaitable<PumpResult> pump(net::Connection& src, net::Connection& dst,
                                 const proto::FrameRules& rules, Inspector& inspector,
                                 PumpState& state) {
  constexpr std::size_t max_segments = 16;
  std::array<asio::const_buffer, max_segments> segments;
  std::size_t segment_count = 0;
  net::RecvBuffer& in = src.in;
  Injections* const injections = inspector.injections();
  auto needs_whole = [&](char type, std::size_t total) {
    if constexpr (requires { inspector.needs_whole(type, total); })
      return inspector.needs_whole(type, total);
    else
      return inspector.needs_whole(type);
  };

  // Writes are gated: with middlewares, the other direction may write to the
  // same connection (a reply on behalf of the server, say).
  auto write_to = [&](net::Connection& to, auto buffers) -> asio::awaitable<std::error_code> {
    bool held = to.gate.try_enter();
    if (!held) held = co_await to.gate.enter();
    net::GateHold hold(to.gate, held);
    if (!held) co_return make_error_code(errc::canceled);
    auto [ec, n] = co_await to.stream.write(buffers);
    co_return ec;
  };
  auto write_segments = [&]() -> asio::awaitable<std::error_code> {
    if (segment_count == 0) co_return std::error_code{};
    state.writing = true;
    const auto ec = co_await write_to(
        dst, std::span<const asio::const_buffer>(segments.data(), segment_count));
    state.writing = false;
    segment_count = 0;
    co_return ec;
  };
  auto read_more = [&]() -> asio::awaitable<std::error_code> {
    // A cancel that came while this pump was busy writing would not reach the
    // read about to start: honour it here.
    const auto cancel_state = co_await asio::this_coro::cancellation_state;
    if (cancel_state.cancelled() != asio::cancellation_type::none)
      co_return make_error_code(errc::canceled);
    asio::mutable_buffer space = in.prepare();
    auto [ec, n] = co_await src.stream.read_some(space);
    if (ec) co_return ec;
    ++state.reads;
    if (n == 0) co_return make_error_code(errc::connection_closed);
    in.commit(n);
    co_return std::error_code{};
  };

  // Whether the last pass consumed something; bytes already buffered (read
  // with the startup packet, say) are handled before the first read.
  bool progressed = !in.empty();
  for (;;) {
    // Read when nothing is buffered or the buffered bytes are not yet a
    // message; otherwise handle what is there first (after a streamed message,
    // the next ones may already be waiting).
    if (in.empty() || !progressed) {
      const auto ec = co_await read_more();
      if (ec) co_return PumpResult{PumpEnd::source_closed, ec};
    }

    const proto::Bytes data = in.data();
    std::size_t pos = 0;  // parsed up to here
    std::size_t run = 0;  // start of the current forward run
    std::size_t reserve = 0;
    std::size_t stream_left = 0;
    bool stop = false;
    bool failed = false;
    PumpResult error;

    auto add = [&](asio::const_buffer b) -> asio::awaitable<std::error_code> {
      if (b.size() == 0) co_return std::error_code{};
      if (segment_count == max_segments) {
        const auto ec = co_await write_segments();
        if (ec) co_return ec;
      }
      segments[segment_count++] = b;
      co_return std::error_code{};
    };
    auto add_run = [&](std::size_t end) { return add(asio::buffer(data.data() + run, end - run)); };

    while (pos < data.size()) {
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
        if (injections != nullptr && !injections->forward.empty()) {
          // Written now, ahead of this message, while the buffer is stable.
          std::error_code ec = co_await add_run(pos);
          if (!ec) ec = co_await add(asio::buffer(injections->forward));
          if (!ec) ec = co_await write_segments();
          injections->forward.clear();
          if (ec) co_return PumpResult{PumpEnd::sink_failed, ec};
          run = pos;
        }
        if (action == FrameAction::drop || action == FrameAction::stop) {
          const auto ec = co_await add_run(pos);
          if (ec) co_return PumpResult{PumpEnd::sink_failed, ec};
          run = pos + total;
        }
        pos += total;
        if (action == FrameAction::stop || action == FrameAction::last) {
          stop = true;
          break;
        }
        continue;
      }
      if (needs_whole(h.header.type, total) ||
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
      auto ec = co_await add_run(pos);
      if (stream_left > 0) state.streaming = true;
      if (!ec) ec = co_await write_segments();
      if (ec) co_return PumpResult{PumpEnd::sink_failed, ec};
    }
    in.consume(pos);
    if constexpr (requires { inspector.on_consumed(); }) inspector.on_consumed();
    if (injections != nullptr && !injections->reply.empty()) {
      const auto ec = co_await write_to(src, asio::buffer(injections->reply));
      injections->reply.clear();
      if (ec) co_return PumpResult{PumpEnd::source_closed, ec};
    }
    if (failed) co_return error;
    if (stop) co_return PumpResult{PumpEnd::stopped, {}};
    progressed = pos > 0;
    if (reserve > 0) in.reserve_message(reserve);

    while (stream_left > 0) {
      if (in.empty()) {
        const auto ec = co_await read_more();
        if (ec) co_return PumpResult{PumpEnd::source_closed, ec};
      }
      const std::size_t n = std::min(stream_left, in.size());
      segments[segment_count++] = asio::buffer(in.data().data(), n);
      const auto ec = co_await write_segments();
      if (ec) co_return PumpResult{PumpEnd::sink_failed, ec};
      in.consume(n);
      stream_left -= n;
    }
    state.streaming = false;
  }
}

}  // namespace pggat::pool
