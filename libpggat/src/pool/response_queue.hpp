// ResponseQueue: the replies a server still owes, in the order it will send them.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "pool/prepared_statements.hpp"
#include "proto/ring_buffer.hpp"

namespace pggat::pool {

// One message sent to the server that will be answered.
struct PendingReply {
  enum class Kind : unsigned char {
    parse,     // ParseComplete
    bind,      // BindComplete
    close,     // CloseComplete
    describe,  // [ParameterDescription] RowDescription | NoData
    execute,   // ... CommandComplete | EmptyQueryResponse | PortalSuspended
    sync,      // ReadyForQuery
    query,     // Query or FunctionCall: ... ReadyForQuery
  };
  Kind kind = Kind::sync;
  bool swallow = false;  // pggat's own message: its reply is not the client's
  // A client Parse that named a statement: undone if it fails.
  std::shared_ptr<const ClientStatement> client_parse{};
  // A statement the server was assumed to hold from here on: forgotten if this fails.
  StatementRef server_statement{};
  // The client statement this message was renamed from, to name it in errors.
  std::shared_ptr<const ClientStatement> renamed{};
  // A Parse that redefines one of the client's statements: its (deliberate)
  // failure is reported as PostgreSQL would, 42P05 naming the statement.
  bool duplicate = false;
  // A Sync sent after an Execute before any COPY data ended: PostgreSQL
  // ignores it if that Execute starts COPY FROM STDIN.
  bool maybe_in_copy = false;
  // A Query pggat rewrote with a statement of its own in front, whose
  // CommandComplete is not the client's.
  bool drop_first_command = false;
  // The Bind that opened a segment pggat can send again (see RetrySegment).
  bool retry_first = false;

  [[nodiscard]] bool ends_with_ready() const { return kind == Kind::sync || kind == Kind::query; }
};

// The type of the message a reply of `kind` answers ('Q' for FunctionCall too).
constexpr char message_type(PendingReply::Kind kind) {
  switch (kind) {
    case PendingReply::Kind::parse:
      return 'P';
    case PendingReply::Kind::bind:
      return 'B';
    case PendingReply::Kind::close:
      return 'C';
    case PendingReply::Kind::describe:
      return 'D';
    case PendingReply::Kind::execute:
      return 'E';
    case PendingReply::Kind::sync:
      return 'S';
    case PendingReply::Kind::query:
      return 'Q';
  }
  return 'Q';
}

class ResponseQueue {
 public:
  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] PendingReply& front() { return entries_.front(); }
  void push(PendingReply e) { entries_.push(std::move(e)); }
  PendingReply pop() { return entries_.pop(); }

  // Removes the Syncs sent during the COPY FROM STDIN the front entry (an
  // Execute) started: PostgreSQL ignores them.
  void drop_syncs_behind_front() {
    entries_.erase_behind_front_if([](const PendingReply& e) {
      return e.kind == PendingReply::Kind::sync && e.maybe_in_copy;
    });
  }

  // ReadyForQuery messages still owed.
  [[nodiscard]] std::size_t owed_ready() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].ends_with_ready()) ++n;
    return n;
  }

 private:
  proto::RingBuffer<PendingReply> entries_;
};

}  // namespace pggat::pool
