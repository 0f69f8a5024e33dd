// Appends one message to a buffer and back-patches its length when done.
#pragma once

#include <cassert>
#include <cstring>

#include "pggat/proto/bytes.hpp"

namespace pggat::proto {

// Usage: { MessageWriter w(out, 'Q'); w.cstring(sql); }  // length written on scope exit
class MessageWriter {
 public:
  // A typed message: type byte, then the length.
  MessageWriter(Buffer& out, char type) : out_(out), start_(out.size() + 1) {
    out_.resize(start_ + 4);  // the length, written by finish()
    out_[start_ - 1] = static_cast<std::byte>(type);
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
    std::byte* p = grow(2);
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v);
    return *this;
  }
  MessageWriter& i32(std::int32_t v) { return u32(static_cast<std::uint32_t>(v)); }
  MessageWriter& u32(std::uint32_t v) {
    put_u32(grow(4), v);
    return *this;
  }
  // Cut at an embedded NUL: on the wire it would end the string early and let
  // the rest be read as further fields.
  MessageWriter& cstring(std::string_view s) {
    s = s.substr(0, s.find('\0'));
    std::byte* p = grow(s.size() + 1);
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p[s.size()] = std::byte{0};
    return *this;
  }
  MessageWriter& bytes(Bytes b) {
    append(out_, b);
    return *this;
  }

  // Writes the length field; idempotent.
  void finish() {
    if (finished_) return;
    finished_ = true;
    put_u32(out_.data() + start_, static_cast<std::uint32_t>(out_.size() - start_));
  }

 private:
  explicit MessageWriter(Buffer& out) : out_(out), start_(out.size()) { out_.resize(start_ + 4); }

  // Room for n more bytes at the end, one size check for a whole field (a
  // push_back per byte checked and could grow each time).
  std::byte* grow(std::size_t n) {
    const std::size_t at = out_.size();
    out_.resize(at + n);
    return out_.data() + at;
  }
  static void put_u32(std::byte* p, std::uint32_t v) {
    p[0] = static_cast<std::byte>(v >> 24);
    p[1] = static_cast<std::byte>(v >> 16);
    p[2] = static_cast<std::byte>(v >> 8);
    p[3] = static_cast<std::byte>(v);
  }

  Buffer& out_;
  std::size_t start_ = 0;
  bool finished_ = false;
};

}  // namespace pggat::proto
