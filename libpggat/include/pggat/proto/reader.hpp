// Bounds-checked cursor over a message body; a short body makes it !ok(), never UB.
#pragma once

#include <cstring>

#include "pggat/proto/bytes.hpp"

namespace pggat::proto {

// Reads big-endian integers and NUL-terminated strings from a message body.
// Reading past the end returns zero values and latches !ok(); decoders check
// ok() (and usually empty()) once at the end instead of after every field.
class BodyReader {
 public:
  explicit BodyReader(Bytes body) : p_(body.data()), end_(body.data() + body.size()) {}

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool empty() const { return p_ == end_; }
  [[nodiscard]] std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  // True when every field was present and nothing is left over.
  [[nodiscard]] bool done() const { return ok_ && p_ == end_; }

  std::uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<std::uint8_t>(*p_++);
  }
  std::int16_t i16() { return static_cast<std::int16_t>(u16()); }
  std::uint16_t u16() {
    if (!need(2)) return 0;
    std::uint16_t v = static_cast<std::uint16_t>((std::to_integer<unsigned>(p_[0]) << 8) |
                                                 std::to_integer<unsigned>(p_[1]));
    p_ += 2;
    return v;
  }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = (std::to_integer<std::uint32_t>(p_[0]) << 24) |
                      (std::to_integer<std::uint32_t>(p_[1]) << 16) |
                      (std::to_integer<std::uint32_t>(p_[2]) << 8) |
                      std::to_integer<std::uint32_t>(p_[3]);
    p_ += 4;
    return v;
  }
  // A NUL-terminated string; the view excludes the NUL.
  std::string_view cstring() {
    // An empty body has no terminator; checking first also keeps a null data()
    // away from memchr, which is UB even for zero bytes.
    if (!need(1)) return {};
    const void* nul = std::memchr(p_, 0, remaining());
    if (nul == nullptr) {
      ok_ = false;
      p_ = end_;
      return {};
    }
    auto* n = static_cast<const std::byte*>(nul);
    std::string_view s(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(n - p_));
    p_ = n + 1;
    return s;
  }
  Bytes bytes(std::size_t n) {
    if (!need(n)) return {};
    Bytes b(p_, n);
    p_ += n;
    return b;
  }
  Bytes rest() {
    Bytes b(p_, remaining());
    p_ = end_;
    return b;
  }

 private:
  bool need(std::size_t n) {
    if (ok_ && remaining() >= n) return true;
    ok_ = false;
    p_ = end_;
    return false;
  }

  const std::byte* p_;
  const std::byte* end_;
  bool ok_ = true;
};

}  // namespace pggat::proto
