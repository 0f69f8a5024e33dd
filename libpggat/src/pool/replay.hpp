// Replay: a unit of work begun on a replica, moved to the primary without the client seeing it twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pggat/pg_error.hpp"
#include "pggat/proto/bytes.hpp"

namespace pggat::pool {

// A 64-bit digest of a byte stream that does not depend on how the stream is
// cut into pieces (the replica's replies and the primary's arrive in
// different reads).
class StreamDigest {
 public:
  void update(proto::Bytes bytes);
  [[nodiscard]] std::uint64_t value() const;
  friend bool operator==(const StreamDigest&, const StreamDigest&) = default;

 private:
  std::uint64_t state_ = 0x9e3779b97f4a7c15ULL;
  std::uint64_t word_ = 0;  // bytes of the word being filled
  unsigned filled_ = 0;     // how many bytes word_ holds
  std::uint64_t length_ = 0;
};

// What a client was sent in a unit of work: every reply except the ones that
// may differ between servers without meaning anything (ParameterStatus,
// NoticeResponse, NotificationResponse).
struct ReplyTrace {
  std::uint64_t bytes = 0;
  StreamDigest digest;

  [[nodiscard]] static bool traced(char type) { return type != 'S' && type != 'N' && type != 'A'; }
  void add_frame(char type, proto::Bytes body);
  void add_raw(proto::Bytes frames);  // whole frames as written (injections)
};

// Why a unit on a replica must move to the primary.
enum class ReplayCause {
  none,
  read_only,      // the replica cannot do it: the client writes (25006 and kin)
  server_failed,  // the replica went away or cancelled the work (shutdown, recovery conflict)
};

// What an error from a replica means. `writes_replay`: rw mode, where a write
// moves to the primary; in ro mode it is the client's error.
[[nodiscard]] ReplayCause replay_cause(const PgError& error, bool writes_replay);

// Whether a CommandComplete tag is of a command that writes (INSERT, UPDATE,
// CREATE, ...): anything but reads, transaction control and session commands.
// A SELECT of a function that writes is not seen.
[[nodiscard]] bool command_writes(std::string_view tag);

// A unit of work relayed to a replica: the client's messages, kept so they
// can be sent again, and what the client has been sent in return.
struct ReplayRecord {
  std::size_t limit = 0;       // bytes of client messages kept at most
  bool writes_replay = false;  // rw mode
  // Client to replica: the messages the relay consumed from the client's
  // buffer (`committed` bytes of `messages`; the rest were inspected but are
  // still in that buffer, and go again from there).
  proto::Buffer messages;
  std::size_t committed = 0;
  bool overflow = false;  // a message was not kept: no replay possible
  // Replica to client.
  ReplyTrace sent;
  bool untraceable = false;  // a reply went through in pieces, unseen
  // Set when the relay stopped for a replay.
  ReplayCause cause = ReplayCause::none;
  std::string reason;  // for the log

  void reset(std::size_t max_bytes, bool rw);
  [[nodiscard]] bool replayable() const { return !overflow && !untraceable; }
  // The client's message, as sent; false once the limit is passed.
  void keep(char type, proto::Bytes body);
  // Whether a message of `total` bytes still fits; once one does not, nothing more is kept.
  bool fits(std::size_t total);
  void give_up();  // a message went through unseen
  void on_consumed() { committed = messages.size(); }
  [[nodiscard]] proto::Bytes replay_bytes() const { return proto::Bytes(messages.data(), committed); }
};

// The primary's side of a replay: its replies are dropped until it has sent
// as much as the client already got, and must match it byte for byte.
class ReplayCheck {
 public:
  explicit ReplayCheck(const ReplyTrace& expected) : expected_(expected) {}
  // True while replies are still being matched (and dropped).
  [[nodiscard]] bool matching() const { return !diverged_ && seen_.bytes < expected_.bytes; }
  [[nodiscard]] bool diverged() const { return diverged_; }
  [[nodiscard]] std::uint64_t remaining() const { return expected_.bytes - seen_.bytes; }
  // A reply while matching; diverged() tells how it went.
  void add_frame(char type, proto::Bytes body);
  void add_raw(proto::Bytes frames);
  // The unit ended, or a reply could not be seen whole, while still matching.
  void fail() { diverged_ = true; }

 private:
  void settle();
  const ReplyTrace& expected_;
  ReplyTrace seen_;
  bool diverged_ = false;
};

}  // namespace pggat::pool
