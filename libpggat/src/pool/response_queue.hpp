// ResponseQueue: the replies a server still owes, in the order it will send them.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "pool/prepared_statements.hpp"

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

// A ring buffer: no allocation once it has grown to the pipeline's depth.
class ResponseQueue {
 public:
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] PendingReply& front() { return slots_[head_]; }

  void push(PendingReply e) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) & (slots_.size() - 1)] = std::move(e);
    ++size_;
  }
  PendingReply pop() {
    PendingReply e = std::move(slots_[head_]);
    slots_[head_] = PendingReply{};
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
    return e;
  }
  // Removes the Syncs sent during the COPY FROM STDIN the front entry (an
  // Execute) started: PostgreSQL ignores them.
  void drop_syncs_behind_front() {
    std::size_t kept = 1;
    for (std::size_t i = 1; i < size_; ++i) {
      PendingReply& e = slots_[(head_ + i) & (slots_.size() - 1)];
      if (e.kind == PendingReply::Kind::sync && e.maybe_in_copy) continue;
      if (kept != i) slots_[(head_ + kept) & (slots_.size() - 1)] = std::move(e);
      ++kept;
    }
    for (std::size_t i = kept; i < size_; ++i) slots_[(head_ + i) & (slots_.size() - 1)] = PendingReply{};
    size_ = kept;
  }

  // ReadyForQuery messages still owed.
  [[nodiscard]] std::size_t owed_ready() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < size_; ++i)
      if (slots_[(head_ + i) & (slots_.size() - 1)].ends_with_ready()) ++n;
    return n;
  }

 private:
  void grow() {
    std::vector<PendingReply> bigger(slots_.empty() ? 16 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i)
      bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<PendingReply> slots_;  // size is a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace pggat::pool
