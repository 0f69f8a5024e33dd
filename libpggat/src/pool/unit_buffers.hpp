// The buffers a transaction-mode unit works in, kept with its server from one unit to the next.
#pragma once

#include <array>
#include <cstddef>

#include <asio/buffer.hpp>

#include "pggat/proto/bytes.hpp"

namespace pggat::pool {

// Bytes an inspector wants written besides the messages it passes: `forward`
// goes to the destination before the message being inspected, `reply` goes
// back to the source's own peer (the connection the pump reads from).
struct Injections {
  proto::Buffer forward;
  proto::Buffer reply;
  [[nodiscard]] bool empty() const { return forward.empty() && reply.empty(); }
};

// The segment list of a pump's gathered write. Outside the pump's coroutine
// frame for the frame's size: glibc keeps freed blocks of at most 1,032
// bytes in a per-thread cache, and a larger one walks the heap's bins when
// it is made and again when it is freed (about 800 instructions a unit for
// a frame made per unit). Its owner lends it to one pump at a time.
struct PumpScratch {
  static constexpr std::size_t max_segments = 16;
  // A range of the receive buffer, or (base null) of the injected bytes,
  // which may move as they grow until the write.
  struct Segment {
    const std::byte* base;
    std::size_t offset;
    std::size_t size;
  };
  std::array<Segment, max_segments> segments;
  std::array<asio::const_buffer, max_segments> buffers;
};

// One for each direction of a relay.
struct PairScratch {
  PumpScratch up;    // client to server
  PumpScratch down;  // server to client
};

// A Sync segment that starts with a Bind of one of pggat's statements while
// nothing is owed and no transaction is open: if that Bind fails because the
// statement's result type changed (0A000, after an ALTER TABLE), nothing of
// the segment has happened, so it can be sent again after a fresh Parse
// (retry_changed_statements).
struct RetrySegment {
  static constexpr std::size_t max_bytes = 64 * 1024;
  proto::Buffer bytes;     // the client's messages of the segment, as sent
  bool recording = false;  // bytes are being kept
  bool complete = false;   // its Sync is in bytes
  bool retrying = false;   // the 0A000 was dropped; waiting for the Sync's ReadyForQuery
  bool ready = false;      // the ReadyForQuery came with nothing else owed: send again
  proto::Buffer error;     // the dropped error, passed on after all if no retry happens

  // Empty again, its buffers' memory kept.
  void reset() {
    bytes.clear();
    error.clear();
    recording = complete = retrying = ready = false;
  }
};

// What relay_unit works in, kept by the server's state rather than in the
// unit's coroutine frame: the frame stays under the 1,032 bytes above, and
// the buffers' memory is reused from one unit to the next.
struct UnitBuffers {
  Injections up_injections;    // into what goes to the server, or back to the client
  Injections down_injections;  // into what goes to the client, or back to the server
  RetrySegment retry;
  PairScratch pumps;

  // For a new unit: no injections, no retry, the memory kept.
  void begin() {
    up_injections.forward.clear();
    up_injections.reply.clear();
    down_injections.forward.clear();
    down_injections.reply.clear();
    retry.reset();
  }
};

}  // namespace pggat::pool
