// Replay: the replica's record, the primary's check, and which errors move a unit.
#include "pool/replay.hpp"

#include "pggat/proto/writer.hpp"

namespace pggat::pool {
namespace {

constexpr std::uint64_t multiplier = 0x9e3779b97f4a7c15ULL;

std::uint64_t mix(std::uint64_t state, std::uint64_t word) {
  state ^= word;
  state = (state << 29) | (state >> 35);
  return state * multiplier;
}

void add_header(StreamDigest& digest, char type, std::size_t body_size) {
  const auto n = static_cast<std::uint32_t>(body_size + 4);
  const std::byte header[5] = {static_cast<std::byte>(type), static_cast<std::byte>(n >> 24),
                               static_cast<std::byte>(n >> 16), static_cast<std::byte>(n >> 8),
                               static_cast<std::byte>(n)};
  digest.update(proto::Bytes(header, 5));
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

void StreamDigest::update(proto::Bytes bytes) {
  length_ += bytes.size();
  std::size_t i = 0;
  while (filled_ != 0 && i < bytes.size()) {
    word_ |= static_cast<std::uint64_t>(bytes[i++]) << (8 * filled_);
    if (++filled_ == 8) {
      state_ = mix(state_, word_);
      word_ = 0;
      filled_ = 0;
    }
  }
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w = 0;
    for (unsigned k = 0; k < 8; ++k) w |= static_cast<std::uint64_t>(bytes[i + k]) << (8 * k);
    state_ = mix(state_, w);
  }
  for (; i < bytes.size(); ++i) word_ |= static_cast<std::uint64_t>(bytes[i]) << (8 * filled_++);
}

std::uint64_t StreamDigest::value() const {
  std::uint64_t h = mix(mix(state_, word_ ^ filled_), length_);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 29);
}

void ReplyTrace::add_frame(char type, proto::Bytes body) {
  add_header(digest, type, body.size());
  digest.update(body);
  bytes += body.size() + 5;
}

void ReplyTrace::add_raw(proto::Bytes frames) {
  digest.update(frames);
  bytes += frames.size();
}

ReplayCause replay_cause(const PgError& error, bool writes_replay) {
  const std::string_view code = error.code;
  // The replica is going away: shutdown, crash, or it refuses new work.
  if (error.is_fatal() || starts_with(code, "57P") || starts_with(code, "08"))
    return ReplayCause::server_failed;
  // Hot standby cancelled the work to apply WAL (40001, 40P01, 57P04 above).
  if ((code == "40001" || code == "40P01") &&
      error.message.find("conflict with recovery") != std::string::npos)
    return ReplayCause::server_failed;
  if (!writes_replay) return ReplayCause::none;
  // "cannot execute INSERT in a read-only transaction", nextval, LOCK...
  if (code == "25006") return ReplayCause::read_only;
  // WAL functions: "recovery is in progress".
  if (code == "55000" && starts_with(error.message, "recovery is in progress"))
    return ReplayCause::read_only;
  return ReplayCause::none;
}

bool command_writes(std::string_view tag) {
  const std::string_view verb = tag.substr(0, tag.find(' '));
  for (std::string_view read :
       {"SELECT", "SHOW", "BEGIN", "START", "COMMIT", "ROLLBACK", "SET", "RESET", "FETCH", "MOVE",
        "DECLARE", "CLOSE", "DEALLOCATE", "PREPARE", "DISCARD", "EXPLAIN", "LISTEN", "UNLISTEN",
        "NOTIFY", "SAVEPOINT", "RELEASE", "LOAD"})
    if (verb == read) return false;
  return !verb.empty();
}

void ReplayRecord::reset(std::size_t max_bytes, bool rw) {
  limit = max_bytes;
  writes_replay = rw;
  messages.clear();
  // An idle client keeps little: a big unit's buffer goes with it.
  if (messages.capacity() > 16 * 1024) messages.shrink_to_fit();
  committed = 0;
  overflow = false;
  sent = ReplyTrace{};
  untraceable = false;
  cause = ReplayCause::none;
  reason.clear();
}

bool ReplayRecord::fits(std::size_t total) {
  if (!overflow && messages.size() + total > limit) give_up();
  return !overflow;
}

void ReplayRecord::give_up() {
  overflow = true;
  messages.clear();
  messages.shrink_to_fit();
  committed = 0;
}

void ReplayRecord::keep(char type, proto::Bytes body) {
  if (!fits(body.size() + 5)) return;
  proto::MessageWriter(messages, type).bytes(body);
}

void ReplayCheck::add_frame(char type, proto::Bytes body) {
  if (diverged_) return;
  if (body.size() + 5 > remaining()) {
    diverged_ = true;
    return;
  }
  seen_.add_frame(type, body);
  settle();
}

void ReplayCheck::add_raw(proto::Bytes frames) {
  if (diverged_ || frames.empty()) return;
  if (frames.size() > remaining()) {
    diverged_ = true;
    return;
  }
  seen_.add_raw(frames);
  settle();
}

void ReplayCheck::settle() {
  if (seen_.bytes == expected_.bytes && !(seen_.digest == expected_.digest)) diverged_ = true;
}

}  // namespace pggat::pool
