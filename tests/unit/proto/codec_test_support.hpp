// Helpers shared by the message codec tests: framing, round trips, truncations.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pggat/proto/frame.hpp"
#include "pggat/proto/wire_list.hpp"

namespace pggat::proto::test {

// Bytes from small integers, for layouts copied from the protocol documentation.
inline Buffer bytes_of(std::initializer_list<unsigned> values) {
  Buffer b;
  for (unsigned v : values) b.push_back(static_cast<std::byte>(v));
  return b;
}

// Bytes of a string that may hold NULs (pass a std::string_view literal: "a\0b"sv).
inline Buffer bytes_of(std::string_view s) {
  const Bytes b = as_bytes(s);
  return Buffer(b.begin(), b.end());
}

inline Buffer concat(Buffer a, const Buffer& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline FrameRules any_message_of(Direction d) {
  return FrameRules{d, TypeSet::all_of(messages_of(d)), default_max_message_length};
}

// The body of `encoded`, which must be exactly one message of Message's type.
template <class Message>
Bytes body_of(const Buffer& encoded, Direction d) {
  const FrameResult r = decode_frame(encoded, any_message_of(d));
  REQUIRE(r.status == DecodeStatus::ok);
  REQUIRE(r.consumed == encoded.size());
  REQUIRE(r.frame.type == Message::type);
  return r.frame.body;
}

// Whether a body ends in bytes that take whatever is left (CopyData, SASL data):
// those accept truncations and trailing bytes as part of their data.
enum class Shape { exact, open_ended };

// Decodes `encoded` and checks that the decoded message re-encodes to the same
// bytes; for exact bodies, also that every strict truncation and any trailing
// byte is rejected. Truncated bodies are copied so ASan sees any over-read.
// The result views `encoded`.
template <class Message>
Message round_trip(const Buffer& encoded, Direction d, Shape shape = Shape::exact) {
  const Bytes body = body_of<Message>(encoded, d);
  const std::optional<Message> m = Message::decode(body);
  REQUIRE(m.has_value());
  Buffer again;
  m->encode(again);
  CHECK(again == encoded);
  if (shape == Shape::exact) {
    for (std::size_t n = 0; n < body.size(); ++n) {
      INFO("truncated to " << n << " of " << body.size() << " bytes");
      const Buffer cut(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(n));
      CHECK_FALSE(Message::decode(cut).has_value());
    }
    for (const std::byte extra : {std::byte{0}, std::byte{'x'}}) {
      Buffer longer(body.begin(), body.end());
      longer.push_back(extra);
      CHECK_FALSE(Message::decode(longer).has_value());
    }
  }
  return *m;
}

// A body (without header) decoded by Message; for hand-made invalid bodies.
template <class Message>
bool decodes(std::string_view body) {
  const Buffer b = bytes_of(body);
  return Message::decode(b).has_value();
}
template <class Message>
bool decodes(const Buffer& body) {
  return Message::decode(body).has_value();
}

inline std::string string_of(Bytes b) {
  return std::string(as_string_view(b));
}

// Values of a list of nullable bytes as strings, nullopt for NULL.
template <class Range>
std::vector<std::optional<std::string>> strings_of(const Range& values) {
  std::vector<std::optional<std::string>> out;
  for (const std::optional<Bytes>& v : values)
    out.push_back(v ? std::optional<std::string>(string_of(*v)) : std::nullopt);
  return out;
}

template <class Range>
auto vector_of(const Range& r) {
  return std::vector<typename Range::value_type>(r.begin(), r.end());
}

}  // namespace pggat::proto::test
