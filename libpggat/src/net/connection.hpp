// Connection: a PostgreSQL protocol endpoint — stream, receive buffer, output scratch.
#pragma once

#include <asio/awaitable.hpp>

#include "net/recv_buffer.hpp"
#include "net/stream.hpp"
#include "net/write_gate.hpp"
#include "pggat/proto/frame.hpp"

namespace pggat::net {

struct Connection {
  explicit Connection(Socket socket) : stream(std::move(socket)) {}

  Stream stream;
  RecvBuffer in;
  proto::Buffer out;  // messages being built for one write
  WriteGate gate;     // serializes the relay's writes when both directions write here
};

struct ReadFrameResult {
  std::error_code ec;  // I/O error, or errc::protocol_violation with frame_error set
  proto::Frame frame;  // valid until conn.in.consume(frame.total_size())
  proto::FrameHeader header;
  proto::FrameError frame_error = proto::FrameError::none;
  bool skipped = false;  // body was discarded unread (see read_frame)
};

// Reads until one whole frame is buffered. A frame larger than the buffer
// whose type is not in `whole_types` is skipped instead: its body is read and
// dropped, and the result has skipped = true and an empty body (already consumed).
[[nodiscard]] asio::awaitable<ReadFrameResult> read_frame(Connection& conn,
                                                          const proto::FrameRules& rules,
                                                          proto::TypeSet whole_types);

// Reads one whole frame, whatever its size (up to rules.max_length).
[[nodiscard]] asio::awaitable<ReadFrameResult> read_frame(Connection& conn,
                                                          const proto::FrameRules& rules);

// Writes conn.out and clears it.
[[nodiscard]] asio::awaitable<std::error_code> flush(Connection& conn);

}  // namespace pggat::net
