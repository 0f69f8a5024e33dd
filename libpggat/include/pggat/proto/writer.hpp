// Appends one message to a buffer and back-patches its length when done.
#pragma once

#include <cassert>

#include "pggat/proto/bytes.hpp"

namespace pggat::proto {

// Usage: { MessageWriter w(out, 'Q'); w.cstring(sql); }  // length written on scope exit
class MessageWriter {
 public:
  // A typed message: type byte, then the length.
  MessageWriter(Buffer& out, char type) : out_(out) {
    out_.push_back(static_cast<std::byte>(type));
    start_ = out_.size();
    u32(0);
  }
  // An untyped startup-phase packet: the length comes first.
  static MessageWriter untyped(Buffer& out) { return MessageWriter(out); }

  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;
  ~MessageWriter() { finish(); }

  MessageWriter& u8(std::uint8_t v) {
    out_.push_back(static_cast<std::byte>(v));
    return *this;
  }
  MessageWriter& i16(std::int16_t v) { return u16(static_cast<std::uint16_t>(v)); }
  MessageWriter& u16(std::uint16_t v) {
    out_.push_back(static_cast<std::byte>(v >> 8));
    out_.push_back(static_cast<std::byte>(v));
    return *this;
  }
  MessageWriter& i32(std::int32_t v) { return u32(static_cast<std::uint32_t>(v)); }
  MessageWriter& u32(std::uint32_t v) {
    out_.push_back(static_cast<std::byte>(v >> 24));
    out_.push_back(static_cast<std::byte>(v >> 16));
    out_.push_back(static_cast<std::byte>(v >> 8));
    out_.push_back(static_cast<std::byte>(v));
    return *this;
  }
  // Cut at an embedded NUL: on the wire it would end the string early and let
  // the rest be read as further fields.
  MessageWriter& cstring(std::string_view s) {
    bytes(as_bytes(s.substr(0, s.find('\0'))));
    return u8(0);
  }
  MessageWriter& bytes(Bytes b) {
    append(out_, b);
    return *this;
  }

  // Writes the length field; idempotent.
  void finish() {
    if (finished_) return;
    finished_ = true;
    const std::size_t len = out_.size() - start_;
    out_[start_] = static_cast<std::byte>(len >> 24);
    out_[start_ + 1] = static_cast<std::byte>(len >> 16);
    out_[start_ + 2] = static_cast<std::byte>(len >> 8);
    out_[start_ + 3] = static_cast<std::byte>(len);
  }

 private:
  explicit MessageWriter(Buffer& out) : out_(out), start_(out.size()) { u32(0); }

  Buffer& out_;
  std::size_t start_ = 0;
  bool finished_ = false;
};

}  // namespace pggat::proto
