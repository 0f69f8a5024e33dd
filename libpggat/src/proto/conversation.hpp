// Conversation: where a client<->server exchange stands, read from the messages both send.
#pragma once

#include <algorithm>
#include <cstdint>

#include "pggat/proto/bytes.hpp"

namespace pggat::proto {

// Knows whether the server owes ReadyForQuery messages, whether a transaction
// or COPY is open, and whether extended-protocol messages await a Sync. That
// is what it takes to bring a server back to idle after its client vanished.
class Conversation {
 public:
  // A message the client sent to the server.
  void on_client(char type) {
    switch (type) {
      case 'Q':
      case 'F':
        ++pending_ready_;
        syncs_after_execute_ = 0;
        counting_syncs_ = false;
        break;
      case 'S':
        unsynced_ = false;
        // PostgreSQL ignores a Sync during COPY FROM STDIN (libpq sends one
        // right behind the Execute of a COPY): no ReadyForQuery for it.
        if (client_copy_in_) break;
        ++pending_ready_;
        if (counting_syncs_) ++syncs_after_execute_;
        break;
      case 'E':
        syncs_after_execute_ = 0;
        counting_syncs_ = true;
        unsynced_ = true;
        break;
      case 'P':
      case 'B':
      case 'D':
      case 'C':
      case 'H':
        unsynced_ = true;
        break;
      case 'c':
      case 'f':
        // Syncs after the end of the COPY data are answered as usual.
        copy_in_ = false;
        client_copy_in_ = false;
        counting_syncs_ = false;
        break;
      default:
        break;
    }
  }

  // A message the server sent; ReadyForQuery's body carries the status.
  void on_server(char type, Bytes body) {
    switch (type) {
      case 'Z':
        if (pending_ready_ > 0) --pending_ready_;
        if (body.size() == 1) status_ = static_cast<char>(body[0]);
        copy_in_ = copy_out_ = false;
        client_copy_in_ = false;
        break;
      case 'G':
        copy_in_ = true;
        client_copy_in_ = true;
        // Syncs sent behind the Execute that started this COPY are ignored.
        pending_ready_ -= std::min(pending_ready_, syncs_after_execute_);
        syncs_after_execute_ = 0;
        counting_syncs_ = false;
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

  // For an owner that tracks replies exactly (the transaction relay's queue):
  // what PostgreSQL skipped after an error is owed nothing.
  void assume_pending_ready(std::uint32_t n) { pending_ready_ = n; }

  // ReadyForQuery messages the server still owes.
  [[nodiscard]] std::uint32_t pending_ready() const { return pending_ready_; }
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
  std::uint32_t pending_ready_ = 0;
  bool unsynced_ = false;
  bool copy_in_ = false;
  bool client_copy_in_ = false;  // the client is sending COPY data (until CopyDone/Fail)
  // Syncs sent after the last Execute and before any COPY data ended: the ones
  // PostgreSQL ignores if that Execute turns out to start COPY FROM STDIN.
  std::uint32_t syncs_after_execute_ = 0;
  bool counting_syncs_ = false;
  bool copy_out_ = false;
  char status_ = 'I';
};

}  // namespace pggat::proto
