// Framing: header validation, need-more on every split, startup packets.
#include "pggat/proto/frame.hpp"

#include <catch2/catch.hpp>

#include "pggat/proto/writer.hpp"

using namespace pggat::proto;

namespace {
const FrameRules ready_frontend{Direction::frontend, states::frontend_ready,
                                default_max_message_length};

Buffer query(std::string_view sql) {
  Buffer b;
  MessageWriter(b, 'Q').cstring(sql);
  return b;
}
}  // namespace

TEST_CASE("a whole frame decodes with a view of its body", "[proto][frame]") {
  const Buffer b = query("select 1");
  const FrameResult r = decode_frame(b, ready_frontend);
  REQUIRE(r.status == DecodeStatus::ok);
  CHECK(r.consumed == b.size());
  CHECK(r.frame.type == 'Q');
  CHECK(as_string_view(r.frame.body) == std::string_view("select 1\0", 9));
  CHECK(r.frame.body.data() == b.data() + 5);
}

TEST_CASE("every strict prefix of a frame needs more", "[proto][frame]") {
  const Buffer b = query("select 42");
  for (std::size_t n = 0; n < b.size(); ++n) {
    INFO("prefix length " << n);
    CHECK(decode_frame(Bytes(b.data(), n), ready_frontend).status == DecodeStatus::need_more);
  }
}

TEST_CASE("two frames in one buffer decode one after the other", "[proto][frame]") {
  Buffer b = query("a");
  const Buffer second = query("bb");
  b.insert(b.end(), second.begin(), second.end());
  const FrameResult first = decode_frame(b, ready_frontend);
  REQUIRE(first.status == DecodeStatus::ok);
  const FrameResult next = decode_frame(Bytes(b).subspan(first.consumed), ready_frontend);
  REQUIRE(next.status == DecodeStatus::ok);
  CHECK(as_string_view(next.frame.body) == std::string_view("bb\0", 3));
}

TEST_CASE("unknown and out-of-state types are rejected at the first byte", "[proto][frame]") {
  const std::byte unknown[] = {std::byte{'z'}};
  const FrameResult r = decode_frame(unknown, ready_frontend);
  CHECK(r.status == DecodeStatus::invalid);
  CHECK(r.error == FrameError::unknown_type);
  CHECK(describe(r.error, Direction::frontend, {'z', 0}) == "invalid frontend message type 122");

  const std::byte password[] = {std::byte{'p'}};
  const FrameResult p = decode_frame(password, ready_frontend);
  CHECK(p.status == DecodeStatus::invalid);
  CHECK(p.error == FrameError::unexpected_type);

  const FrameRules authenticating{Direction::frontend, states::frontend_authenticating,
                                  default_max_message_length};
  CHECK(decode_frame(password, authenticating).status == DecodeStatus::need_more);
}

TEST_CASE("lengths below 4 or above the caps are invalid", "[proto][frame]") {
  const std::byte short_len[] = {std::byte{'Q'}, std::byte{0}, std::byte{0}, std::byte{0},
                                 std::byte{3}};
  CHECK(decode_frame(short_len, ready_frontend).error == FrameError::bad_length);

  // A 2 GB Query against a 1 MiB configured maximum.
  const std::byte huge[] = {std::byte{'Q'}, std::byte{0x7f}, std::byte{0xff}, std::byte{0xff},
                            std::byte{0xff}};
  const FrameRules capped{Direction::frontend, states::frontend_ready, 1 << 20};
  CHECK(decode_frame(huge, capped).error == FrameError::too_large);

  // Sync is capped at PostgreSQL's small-message limit whatever the maximum.
  const std::byte big_sync[] = {std::byte{'S'}, std::byte{0}, std::byte{1}, std::byte{0},
                                std::byte{0}};
  CHECK(decode_frame(big_sync, ready_frontend).error == FrameError::too_large);
}

TEST_CASE("startup packets are classified by their code", "[proto][startup]") {
  Buffer ssl;
  MessageWriter::untyped(ssl).u32(ssl_request_code);
  StartupResult r = decode_startup(ssl);
  REQUIRE(r.status == DecodeStatus::ok);
  CHECK(r.frame.kind == StartupKind::ssl_request);
  CHECK(r.consumed == 8);

  Buffer cancel;
  MessageWriter::untyped(cancel).u32(cancel_request_code).u32(1234).u32(5678);
  r = decode_startup(cancel);
  REQUIRE(r.status == DecodeStatus::ok);
  CHECK(r.frame.kind == StartupKind::cancel_request);
  CHECK(r.frame.body.size() == 8);

  Buffer startup;
  MessageWriter::untyped(startup).u32(protocol_version_3_0).cstring("user").cstring("a").u8(0);
  r = decode_startup(startup);
  REQUIRE(r.status == DecodeStatus::ok);
  CHECK(r.frame.kind == StartupKind::startup_message);
  CHECK(r.frame.code == protocol_version_3_0);
  for (std::size_t n = 0; n < startup.size(); ++n)
    CHECK(decode_startup(Bytes(startup.data(), n)).status == DecodeStatus::need_more);
}

TEST_CASE("startup packets with absurd lengths are invalid", "[proto][startup]") {
  const std::byte tiny[] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{4}};
  CHECK(decode_startup(tiny).status == DecodeStatus::invalid);
  const std::byte huge[] = {std::byte{0x7f}, std::byte{0}, std::byte{0}, std::byte{0}};
  CHECK(decode_startup(huge).status == DecodeStatus::invalid);
  const std::byte just_over[] = {std::byte{0}, std::byte{0}, std::byte{0x27}, std::byte{0x11}};
  CHECK(decode_startup(just_over).status == DecodeStatus::invalid);  // 10001 bytes

  Buffer ssl_with_tail;
  MessageWriter::untyped(ssl_with_tail).u32(ssl_request_code).u32(0);
  CHECK(decode_startup(ssl_with_tail).status == DecodeStatus::invalid);
}

TEST_CASE("an embedded NUL cannot smuggle fields into a message", "[proto][writer]") {
  Buffer b;
  MessageWriter(b, 'Q').cstring(std::string_view("select 1\0X\0", 11));
  const FrameResult r = decode_frame(b, ready_frontend);
  REQUIRE(r.status == DecodeStatus::ok);
  CHECK(as_string_view(r.frame.body) == std::string_view("select 1\0", 9));
}
