// Conversation: where a client<->server exchange stands, read from the messages both send.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pggat/proto/bytes.hpp"
#include "proto/ring_buffer.hpp"

namespace pggat::proto {

// Knows whether the server owes ReadyForQuery messages, whether a transaction
// or COPY is open, and whether extended-protocol messages await a Sync. That
// is what it takes to bring a server back to idle after its client vanished.
//
// It is fed every message sent to the server, in order, and every message the
// server sends, and matches each reply to the message it answers: after an
// error in the extended protocol PostgreSQL skips everything up to the next
// Sync, a Query or FunctionCall too, and those are owed nothing.
class Conversation {
 public:
  // A message sent to the server.
  void on_client(char type) {
    switch (type) {
      case 'Q':
      case 'F':
        expect('Q');
        after_execute_ = false;
        break;
      case 'S':
        unsynced_ = false;
        // PostgreSQL ignores a Sync during COPY FROM STDIN (libpq sends one
        // right behind the Execute of a COPY): no ReadyForQuery for it.
        if (client_copy_in_) break;
        expect('S', after_execute_);
        break;
      case 'E':
        expect('E');
        after_execute_ = true;
        unsynced_ = true;
        flushed_ = false;
        break;
      case 'P':
      case 'B':
      case 'D':
      case 'C':
        expect(type);
        unsynced_ = true;
        flushed_ = false;
        break;
      case 'H':
        unsynced_ = true;
        flushed_ = true;
        break;
      case 'c':
      case 'f':
        // Syncs after the end of the COPY data are answered as usual.
        copy_in_ = false;
        client_copy_in_ = false;
        after_execute_ = false;
        break;
      default:
        break;
    }
  }

  // A message the server sent; ReadyForQuery's body carries the status.
  void on_server(char type, Bytes body) {
    switch (type) {
      case '1':
        complete('P');
        break;
      case '2':
        complete('B');
        break;
      case '3':
        complete('C');
        break;
      case 'T':  // after a ParameterDescription for a statement
      case 'n':
        complete('D');
        break;
      case 'C':
      case 'I':
      case 's':
        complete('E');
        break;
      case 'E':
        on_error();
        break;
      case 'Z':
        while (!owed_.empty()) {
          if (ends_with_ready(pop().kind)) break;
        }
        if (body.size() == 1) status_ = static_cast<char>(body[0]);
        copy_in_ = copy_out_ = false;
        client_copy_in_ = false;
        break;
      case 'G':
        copy_in_ = true;
        client_copy_in_ = true;
        // Syncs sent behind the Execute that started this COPY are ignored.
        if (!owed_.empty() && owed_.front().kind == 'E') {
          owed_.erase_behind_front_if([](const Owed& o) { return o.kind == 'S' && o.maybe_in_copy; });
          pending_ready_ = count_ready();
        }
        break;
      case 'H':
        copy_out_ = true;
        break;
      case 'W':
        copy_in_ = copy_out_ = true;
        break;
      case 'c':
        copy_out_ = false;
        break;
      default:
        break;
    }
  }

  // A fresh start (for the server's next client), keeping the memory.
  void reset() {
    owed_.clear();
    pending_ready_ = 0;
    unsynced_ = flushed_ = copy_in_ = client_copy_in_ = after_execute_ = copy_out_ = false;
    status_ = 'I';
  }

  // ReadyForQuery messages the server still owes.
  [[nodiscard]] std::uint32_t pending_ready() const { return pending_ready_; }
  // The server, not the client, is due: a message sent awaits its reply (in
  // COPY FROM STDIN the server waits for the client's data instead).
  // An extended batch with neither Sync nor Flush behind it gets no reply yet.
  [[nodiscard]] bool awaiting_server() const {
    return copy_out_ || (!owed_.empty() && !copy_in_ && !(unsynced_ && !flushed_));
  }
  // Extended-protocol messages were sent after the last Sync.
  [[nodiscard]] bool unsynced() const { return unsynced_; }
  // 'I' idle, 'T' in a transaction, 'E' in a failed transaction.
  [[nodiscard]] char transaction_status() const { return status_; }
  [[nodiscard]] bool copy_in() const { return copy_in_; }
  [[nodiscard]] bool copy_out() const { return copy_out_; }
  // Nothing is owed and no transaction is open: the server can go to anyone.
  [[nodiscard]] bool idle() const {
    return pending_ready_ == 0 && !unsynced_ && status_ == 'I' && !copy_in_ && !copy_out_;
  }

 private:
  // A message awaiting its reply, by its type ('Q' for FunctionCall too).
  struct Owed {
    char kind = 0;
    // A Sync sent after an Execute before any COPY data ended: PostgreSQL
    // ignores it if that Execute starts COPY FROM STDIN.
    bool maybe_in_copy = false;
  };
  static bool ends_with_ready(char kind) { return kind == 'S' || kind == 'Q'; }

  void expect(char kind, bool maybe_in_copy = false) {
    owed_.push(Owed{kind, maybe_in_copy});
    if (ends_with_ready(kind)) ++pending_ready_;
  }
  Owed pop() {
    const Owed o = owed_.pop();
    if (ends_with_ready(o.kind)) --pending_ready_;
    return o;
  }
  // A reply that completes the front message when it is of `kind`; anything
  // else (a reply inside a Query, a middleware's own traffic) moves nothing.
  void complete(char kind) {
    if (!owed_.empty() && owed_.front().kind == kind) pop();
  }
  void on_error() {
    // Inside a Query, FunctionCall or Sync: its ReadyForQuery follows.
    if (owed_.empty() || ends_with_ready(owed_.front().kind)) return;
    // The failing extended-protocol message, then everything up to Sync.
    pop();
    while (!owed_.empty() && owed_.front().kind != 'S') pop();
  }
  [[nodiscard]] std::uint32_t count_ready() const {
    std::uint32_t n = 0;
    for (std::size_t i = 0; i < owed_.size(); ++i)
      if (ends_with_ready(owed_[i].kind)) ++n;
    return n;
  }

  RingBuffer<Owed> owed_;
  std::uint32_t pending_ready_ = 0;  // the 'S' and 'Q' entries in owed_
  bool unsynced_ = false;
  bool flushed_ = false;  // a Flush came after the last extended message
  bool copy_in_ = false;
  bool client_copy_in_ = false;  // the client is sending COPY data (until CopyDone/Fail)
  bool after_execute_ = false;   // see Owed::maybe_in_copy
  bool copy_out_ = false;
  char status_ = 'I';
};

}  // namespace pggat::proto
