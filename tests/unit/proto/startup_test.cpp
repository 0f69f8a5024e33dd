// Startup packets: documented layouts, round trips through decode_startup, strict bodies.
#include "pggat/proto/startup.hpp"

#include <catch2/catch.hpp>
#include <ranges>

#include "codec_test_support.hpp"

using namespace pggat::proto;
using namespace pggat::proto::test;
using namespace std::literals;

namespace {

// The frame of `encoded`, which must be exactly one packet of Packet's kind.
template <class Packet>
StartupFrame frame_of(const Buffer& encoded) {
  const StartupResult r = decode_startup(encoded);
  REQUIRE(r.status == DecodeStatus::ok);
  REQUIRE(r.consumed == encoded.size());
  REQUIRE(r.frame.kind == Packet::kind);
  return r.frame;
}

// Like round_trip for typed messages: decode, re-encode to the same bytes,
// and reject every truncated or extended body.
template <class Packet>
Packet startup_round_trip(const Buffer& encoded) {
  const StartupFrame frame = frame_of<Packet>(encoded);
  const std::optional<Packet> p = Packet::decode(frame);
  REQUIRE(p.has_value());
  Buffer again;
  p->encode(again);
  CHECK(again == encoded);
  for (std::size_t n = 0; n < frame.body.size(); ++n) {
    INFO("truncated to " << n << " of " << frame.body.size() << " bytes");
    const Buffer cut(frame.body.begin(), frame.body.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_FALSE(Packet::decode(StartupFrame{frame.kind, frame.code, cut}).has_value());
  }
  Buffer longer(frame.body.begin(), frame.body.end());
  longer.push_back(std::byte{0});
  CHECK_FALSE(Packet::decode(StartupFrame{frame.kind, frame.code, longer}).has_value());
  return *p;
}

StartupFrame startup_frame(std::string_view body, std::uint32_t code = protocol_version_3_0) {
  return StartupFrame{StartupKind::startup_message, code, as_bytes(body)};
}
}  // namespace

static_assert(std::ranges::forward_range<StartupParameterList>);

TEST_CASE("StartupMessage has the documented layout", "[proto][startup]") {
  const StartupParameter params[] = {{"user", "alice"}};
  Buffer b;
  StartupMessage::encode(b, params);
  CHECK(b == concat(bytes_of({0, 0, 0, 20, 0, 3, 0, 0}), bytes_of("user\0alice\0\0"sv)));
  const StartupMessage m = startup_round_trip<StartupMessage>(b);
  CHECK(m.major_version() == 3);
  CHECK(m.minor_version() == 0);
  CHECK(m.find("user") == "alice");
}

TEST_CASE("StartupMessage parameters keep their order; the last repeat wins", "[proto][startup]") {
  const StartupParameter params[] = {{"user", "alice"},
                                     {"database", "app"},
                                     {"", "dropped"},
                                     {"application_name", ""},
                                     {"database", "other"}};
  Buffer b;
  StartupMessage::encode(b, params);
  const StartupMessage m = startup_round_trip<StartupMessage>(b);
  CHECK(vector_of(m.parameters) == std::vector<StartupParameter>{{"user", "alice"},
                                                                 {"database", "app"},
                                                                 {"application_name", ""},
                                                                 {"database", "other"}});
  CHECK(m.find("database") == "other");
  CHECK(m.find("application_name") == "");
  CHECK_FALSE(m.find("options").has_value());
  CHECK_FALSE(m.find("").has_value());
}

TEST_CASE("StartupMessage accepts minor versions of 3 only", "[proto][startup]") {
  Buffer b;
  StartupMessage::encode(b, {}, (3U << 16) | 2U);
  const StartupMessage m = startup_round_trip<StartupMessage>(b);
  CHECK(m.minor_version() == 2);
  CHECK(m.parameters.empty());

  CHECK(StartupMessage::decode(startup_frame("\0"sv)).has_value());
  CHECK_FALSE(StartupMessage::decode(startup_frame("\0"sv, 2U << 16)).has_value());
  // A request code pggat does not know is not a 3.x startup either.
  CHECK_FALSE(StartupMessage::decode(startup_frame("\0"sv, 80877105)).has_value());
}

TEST_CASE("StartupMessage bodies must end with exactly one terminator", "[proto][startup]") {
  CHECK(StartupMessage::decode(startup_frame("user\0a\0\0"sv)).has_value());
  CHECK_FALSE(StartupMessage::decode(startup_frame(""sv)).has_value());
  CHECK_FALSE(StartupMessage::decode(startup_frame("user\0"sv)).has_value());       // no value
  CHECK_FALSE(StartupMessage::decode(startup_frame("user\0\0"sv)).has_value());     // no end
  CHECK_FALSE(StartupMessage::decode(startup_frame("user\0a\0"sv)).has_value());    // no end
  CHECK_FALSE(StartupMessage::decode(startup_frame("\0\0"sv)).has_value());         // trailing
  CHECK_FALSE(StartupMessage::decode(startup_frame("\0user\0a\0"sv)).has_value());  // trailing
}

TEST_CASE("SSLRequest and GSSENCRequest have the documented layout", "[proto][startup]") {
  Buffer ssl;
  SSLRequest{}.encode(ssl);
  CHECK(ssl == bytes_of({0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f}));
  startup_round_trip<SSLRequest>(ssl);

  Buffer gss;
  GSSENCRequest{}.encode(gss);
  CHECK(gss == bytes_of({0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x30}));
  startup_round_trip<GSSENCRequest>(gss);

  // Each decoder takes only its own kind of packet.
  CHECK_FALSE(GSSENCRequest::decode(frame_of<SSLRequest>(ssl)).has_value());
  CHECK_FALSE(StartupMessage::decode(frame_of<SSLRequest>(ssl)).has_value());
  CHECK_FALSE(SSLRequest::decode(startup_frame(""sv)).has_value());
  CHECK_FALSE(SSLRequest::decode(StartupFrame{StartupKind::ssl_request, gssenc_request_code, {}})
                  .has_value());
}

TEST_CASE("CancelRequest has the documented layout", "[proto][startup]") {
  Buffer b;
  CancelRequest{4242, -559038737}.encode(b);
  CHECK(b ==
        bytes_of({0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0x10, 0x92, 0xde, 0xad, 0xbe, 0xef}));
  const CancelRequest m = startup_round_trip<CancelRequest>(b);
  CHECK(m.process_id == 4242);
  CHECK(m.secret_key == -559038737);
  CHECK_FALSE(
      CancelRequest::decode(frame_of<SSLRequest>(bytes_of({0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f})))
          .has_value());
}
