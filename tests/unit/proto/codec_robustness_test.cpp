// Garbage in, no crash out: random and mutated bodies into every decoder; framing of split streams.
#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "pggat/proto/startup.hpp"

using namespace pggat::proto;
using namespace pggat::proto::test;
using namespace std::literals;

namespace {

constexpr std::uint32_t seed = 20240501;

// ---- Samples: at least one valid message of every type ----

std::vector<Buffer> frontend_samples() {
  std::vector<Buffer> out;
  const auto add = [&out](const auto& encode) { encode(out.emplace_back()); };
  const std::int16_t formats[] = {0, 1};
  const std::optional<Bytes> values[] = {as_bytes("42"), std::nullopt, Bytes{}};
  const std::uint32_t oids[] = {23, 0};
  add([&](Buffer& b) { fe::Bind::encode(b, "p", "s", formats, values, formats); });
  add([&](Buffer& b) { fe::Bind::encode(b, "", "", {}, {}, {}); });
  add([](Buffer& b) { fe::Close{fe::Target::portal, "p"}.encode(b); });
  add([](Buffer& b) { fe::CopyData{as_bytes("1\t2\n")}.encode(b); });
  add([](Buffer& b) { fe::CopyDone{}.encode(b); });
  add([](Buffer& b) { fe::CopyFail{"nope"}.encode(b); });
  add([](Buffer& b) { fe::Describe{fe::Target::statement, "s"}.encode(b); });
  add([](Buffer& b) { fe::Execute{"p", 10}.encode(b); });
  add([](Buffer& b) { fe::Flush{}.encode(b); });
  add([&](Buffer& b) { fe::FunctionCall::encode(b, 1598, formats, values, 1); });
  add([](Buffer& b) { fe::GSSResponse{as_bytes("tok")}.encode(b); });
  add([&](Buffer& b) { fe::Parse::encode(b, "s", "select $1, $2", oids); });
  add([](Buffer& b) { fe::PasswordMessage{"secret"}.encode(b); });
  add([](Buffer& b) { fe::Query{"select 1"}.encode(b); });
  add([](Buffer& b) { fe::SASLInitialResponse{"SCRAM-SHA-256", as_bytes("n,,n=,r=x")}.encode(b); });
  add([](Buffer& b) { fe::SASLInitialResponse{"SCRAM-SHA-256", std::nullopt}.encode(b); });
  add([](Buffer& b) { fe::SASLResponse{as_bytes("c=biws")}.encode(b); });
  add([](Buffer& b) { fe::Sync{}.encode(b); });
  add([](Buffer& b) { fe::Terminate{}.encode(b); });
  return out;
}

std::vector<Buffer> backend_samples() {
  std::vector<Buffer> out;
  const auto add = [&out](const auto& encode) { encode(out.emplace_back()); };
  const std::int16_t formats[] = {0, 1};
  const std::optional<Bytes> values[] = {as_bytes("1"), std::nullopt, Bytes{}};
  const std::uint32_t oids[] = {23, 25};
  const std::string_view mechanisms[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  const be::FieldDescription fields[] = {{"id", 16384, 1, 23, 4, -1, 0},
                                         {"?column?", 0, 0, 25, -1, -1, 1}};
  const be::ErrorField notice[] = {{'S', "NOTICE"}, {'C', "00000"}, {'M', "hi"}};
  add([](Buffer& b) { be::AuthenticationOk{}.encode(b); });
  add([](Buffer& b) { be::AuthenticationKerberosV5{}.encode(b); });
  add([](Buffer& b) { be::AuthenticationCleartextPassword{}.encode(b); });
  add([](Buffer& b) {
    be::AuthenticationMD5Password{{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}}}.encode(
        b);
  });
  add([](Buffer& b) { be::AuthenticationSCMCredential{}.encode(b); });
  add([](Buffer& b) { be::AuthenticationGSS{}.encode(b); });
  add([](Buffer& b) { be::AuthenticationGSSContinue{as_bytes("tok")}.encode(b); });
  add([](Buffer& b) { be::AuthenticationSSPI{}.encode(b); });
  add([&](Buffer& b) { be::AuthenticationSASL::encode(b, mechanisms); });
  add([](Buffer& b) { be::AuthenticationSASLContinue{as_bytes("r=x,s=y,i=4096")}.encode(b); });
  add([](Buffer& b) { be::AuthenticationSASLFinal{as_bytes("v=z")}.encode(b); });
  add([](Buffer& b) { be::BackendKeyData{1, 2}.encode(b); });
  add([](Buffer& b) { be::BindComplete{}.encode(b); });
  add([](Buffer& b) { be::CloseComplete{}.encode(b); });
  add([](Buffer& b) { be::CommandComplete{"SELECT 2"}.encode(b); });
  add([](Buffer& b) { be::CopyData{as_bytes("x\n")}.encode(b); });
  add([](Buffer& b) { be::CopyDone{}.encode(b); });
  add([&](Buffer& b) { be::CopyInResponse::encode(b, 0, formats); });
  add([&](Buffer& b) { be::CopyOutResponse::encode(b, 1, formats); });
  add([&](Buffer& b) { be::CopyBothResponse::encode(b, 0, {}); });
  add([&](Buffer& b) { be::DataRow::encode(b, values); });
  add([](Buffer& b) { be::EmptyQueryResponse{}.encode(b); });
  add([](Buffer& b) {
    be::ErrorResponse::encode(b, pggat::PgError{"ERROR", "42P01", "no table", "d", "h"});
  });
  add([&](Buffer& b) { be::NoticeResponse::encode(b, notice); });
  add([](Buffer& b) { be::FunctionCallResponse{as_bytes("t")}.encode(b); });
  add([](Buffer& b) { be::FunctionCallResponse{std::nullopt}.encode(b); });
  add([&](Buffer& b) { be::NegotiateProtocolVersion::encode(b, 0, mechanisms); });
  add([](Buffer& b) { be::NoData{}.encode(b); });
  add([](Buffer& b) { be::NotificationResponse{7, "ch", "payload"}.encode(b); });
  add([&](Buffer& b) { be::ParameterDescription::encode(b, oids); });
  add([](Buffer& b) { be::ParameterStatus{"TimeZone", "UTC"}.encode(b); });
  add([](Buffer& b) { be::ParseComplete{}.encode(b); });
  add([](Buffer& b) { be::PortalSuspended{}.encode(b); });
  add([](Buffer& b) { be::ReadyForQuery{be::TransactionStatus::in_transaction}.encode(b); });
  add([&](Buffer& b) { be::RowDescription::encode(b, fields); });
  return out;
}

std::vector<Buffer> startup_samples() {
  std::vector<Buffer> out;
  const StartupParameter params[] = {{"user", "alice"}, {"database", "app"}};
  StartupMessage::encode(out.emplace_back(), params);
  StartupMessage::encode(out.emplace_back(), {}, (3U << 16) | 1U);
  SSLRequest{}.encode(out.emplace_back());
  GSSENCRequest{}.encode(out.emplace_back());
  CancelRequest{11, 22}.encode(out.emplace_back());
  return out;
}

// ---- Decoders under test, type-erased ----

// Decodes a body; if accepted, appends every re-encoding of the result: one
// from the decoded struct and, for messages with lists, one from plain values
// gathered by iterating those lists.
using DecodeAndEncode = std::function<bool(Bytes, std::vector<Buffer>&)>;

struct Decoder {
  std::string name;
  char type = 0;
  DecodeAndEncode run;
  std::size_t accepted = 0;
};

struct NoPlainEncode {};

template <class Message, class PlainEncode = NoPlainEncode>
Decoder decoder(std::string name, PlainEncode plain = {}) {
  return Decoder{std::move(name), Message::type,
                 [plain](Bytes body, std::vector<Buffer>& encodings) {
                   const std::optional<Message> m = Message::decode(body);
                   if (!m) return false;
                   m->encode(encodings.emplace_back());
                   if constexpr (!std::is_same_v<PlainEncode, NoPlainEncode>)
                     plain(*m, encodings.emplace_back());
                   else
                     static_cast<void>(plain);
                   return true;
                 }};
}

template <class Message>
Decoder copy_response_decoder(std::string name) {
  return decoder<Message>(std::move(name), [](const Message& m, Buffer& out) {
    Message::encode(out, m.overall_format, vector_of(m.column_formats));
  });
}

template <class Message>
Decoder diagnostic_decoder(std::string name) {
  return decoder<Message>(std::move(name), [](const Message& m, Buffer& out) {
    Message::encode(out, vector_of(m.fields));
    static_cast<void>(m.to_pg_error());  // must not trip on any accepted body
  });
}

std::vector<Decoder> frontend_decoders() {
  using namespace fe;
  std::vector<Decoder> d;
  d.push_back(decoder<Bind>("Bind", [](const Bind& m, Buffer& out) {
    Bind::encode(out, m.portal, m.statement, vector_of(m.param_formats), vector_of(m.params),
                 vector_of(m.result_formats));
  }));
  d.push_back(decoder<Close>("Close"));
  d.push_back(decoder<CopyData>("CopyData"));
  d.push_back(decoder<CopyDone>("CopyDone"));
  d.push_back(decoder<CopyFail>("CopyFail"));
  d.push_back(decoder<Describe>("Describe"));
  d.push_back(decoder<Execute>("Execute"));
  d.push_back(decoder<Flush>("Flush"));
  d.push_back(decoder<FunctionCall>("FunctionCall", [](const FunctionCall& m, Buffer& out) {
    FunctionCall::encode(out, m.function_oid, vector_of(m.arg_formats), vector_of(m.args),
                         m.result_format);
  }));
  d.push_back(decoder<GSSResponse>("GSSResponse"));
  d.push_back(decoder<Parse>("Parse", [](const Parse& m, Buffer& out) {
    Parse::encode(out, m.name, m.query, vector_of(m.param_types));
  }));
  d.push_back(decoder<PasswordMessage>("PasswordMessage"));
  d.push_back(decoder<Query>("Query"));
  d.push_back(decoder<SASLInitialResponse>("SASLInitialResponse"));
  d.push_back(decoder<SASLResponse>("SASLResponse"));
  d.push_back(decoder<Sync>("Sync"));
  d.push_back(decoder<Terminate>("Terminate"));
  return d;
}

std::vector<Decoder> backend_decoders() {
  using namespace be;
  std::vector<Decoder> d;
  d.push_back(decoder<AuthenticationOk>("AuthenticationOk"));
  d.push_back(decoder<AuthenticationKerberosV5>("AuthenticationKerberosV5"));
  d.push_back(decoder<AuthenticationCleartextPassword>("AuthenticationCleartextPassword"));
  d.push_back(decoder<AuthenticationMD5Password>("AuthenticationMD5Password"));
  d.push_back(decoder<AuthenticationSCMCredential>("AuthenticationSCMCredential"));
  d.push_back(decoder<AuthenticationGSS>("AuthenticationGSS"));
  d.push_back(decoder<AuthenticationGSSContinue>("AuthenticationGSSContinue"));
  d.push_back(decoder<AuthenticationSSPI>("AuthenticationSSPI"));
  d.push_back(decoder<AuthenticationSASL>(
      "AuthenticationSASL", [](const AuthenticationSASL& m, Buffer& out) {
        AuthenticationSASL::encode(out, vector_of(m.mechanisms));
      }));
  d.push_back(decoder<AuthenticationSASLContinue>("AuthenticationSASLContinue"));
  d.push_back(decoder<AuthenticationSASLFinal>("AuthenticationSASLFinal"));
  d.push_back(decoder<BackendKeyData>("BackendKeyData"));
  d.push_back(decoder<BindComplete>("BindComplete"));
  d.push_back(decoder<CloseComplete>("CloseComplete"));
  d.push_back(decoder<CommandComplete>("CommandComplete"));
  d.push_back(decoder<CopyData>("CopyData"));
  d.push_back(decoder<CopyDone>("CopyDone"));
  d.push_back(copy_response_decoder<CopyInResponse>("CopyInResponse"));
  d.push_back(copy_response_decoder<CopyOutResponse>("CopyOutResponse"));
  d.push_back(copy_response_decoder<CopyBothResponse>("CopyBothResponse"));
  d.push_back(decoder<DataRow>("DataRow", [](const DataRow& m, Buffer& out) {
    DataRow::encode(out, vector_of(m.columns));
  }));
  d.push_back(decoder<EmptyQueryResponse>("EmptyQueryResponse"));
  d.push_back(diagnostic_decoder<ErrorResponse>("ErrorResponse"));
  d.push_back(diagnostic_decoder<NoticeResponse>("NoticeResponse"));
  d.push_back(decoder<FunctionCallResponse>("FunctionCallResponse"));
  d.push_back(decoder<NegotiateProtocolVersion>(
      "NegotiateProtocolVersion", [](const NegotiateProtocolVersion& m, Buffer& out) {
        NegotiateProtocolVersion::encode(out, m.newest_minor, vector_of(m.unrecognized_options));
      }));
  d.push_back(decoder<NoData>("NoData"));
  d.push_back(decoder<NotificationResponse>("NotificationResponse"));
  d.push_back(decoder<ParameterDescription>(
      "ParameterDescription", [](const ParameterDescription& m, Buffer& out) {
        ParameterDescription::encode(out, vector_of(m.type_oids));
      }));
  d.push_back(decoder<ParameterStatus>("ParameterStatus"));
  d.push_back(decoder<ParseComplete>("ParseComplete"));
  d.push_back(decoder<PortalSuspended>("PortalSuspended"));
  d.push_back(decoder<ReadyForQuery>("ReadyForQuery"));
  d.push_back(decoder<RowDescription>("RowDescription", [](const RowDescription& m, Buffer& out) {
    RowDescription::encode(out, vector_of(m.fields));
  }));
  return d;
}

// Startup packets decode from a frame; their encodings are the whole packet.
using DecodeStartup = std::function<bool(const StartupFrame&, std::vector<Buffer>&)>;

struct StartupDecoder {
  std::string name;
  DecodeStartup run;
  std::size_t accepted = 0;
};

template <class Packet>
StartupDecoder startup_decoder(std::string name) {
  return {std::move(name), [](const StartupFrame& frame, std::vector<Buffer>& encodings) {
            const std::optional<Packet> p = Packet::decode(frame);
            if (!p) return false;
            p->encode(encodings.emplace_back());
            if constexpr (std::is_same_v<Packet, StartupMessage>)
              StartupMessage::encode(encodings.emplace_back(), vector_of(p->parameters),
                                     p->protocol_version);
            return true;
          }};
}

std::vector<StartupDecoder> startup_decoders() {
  return {startup_decoder<StartupMessage>("StartupMessage"),
          startup_decoder<SSLRequest>("SSLRequest"),
          startup_decoder<GSSENCRequest>("GSSENCRequest"),
          startup_decoder<CancelRequest>("CancelRequest")};
}

// ---- Inputs ----

std::string hex(Bytes b) {
  std::ostringstream s;
  for (const std::byte x : b)
    s << std::hex << (std::to_integer<unsigned>(x) >> 4) << (std::to_integer<unsigned>(x) & 15U)
      << ' ';
  return s.str();
}

class Garbage {
 public:
  explicit Garbage(std::uint32_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  // Mostly random, but rich in the bytes that steer decoders: NULs, 0xff
  // (negative lengths), small counts, and the enumerated letters.
  std::byte byte() {
    static constexpr unsigned char steering[] = {0,   0,   0,   1,   2,   0xff, 0xfe, 0x7f, 0x80,
                                                 'S', 'P', 'I', 'T', 'E', 'M',  'C',  'V'};
    if (below(3) == 0) return static_cast<std::byte>(steering[below(sizeof steering)]);
    return static_cast<std::byte>(below(256));
  }

  Buffer random_body() {
    Buffer b(below(65));
    for (std::byte& x : b) x = byte();
    return b;
  }

  // One to three edits of a valid body: overwrite, insert, erase, truncate,
  // or a 4-byte field forced to an extreme length or count.
  Buffer mutate(Bytes valid) {
    Buffer b(valid.begin(), valid.end());
    const std::size_t edits = 1 + below(3);
    for (std::size_t i = 0; i < edits; ++i) {
      const std::size_t at = b.empty() ? 0 : below(b.size());
      switch (below(5)) {
        case 0:
          if (!b.empty()) b[at] = byte();
          break;
        case 1:
          b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), byte());
          break;
        case 2:
          if (!b.empty()) b.erase(b.begin() + static_cast<std::ptrdiff_t>(at));
          break;
        case 3:
          b.resize(at);
          break;
        default: {
          static constexpr std::uint32_t extremes[] = {0xffffffff, 0xfffffffe, 0x7fffffff,
                                                       0x80000000, 0x0000ffff, 0x00000001,
                                                       0x00008000, 0x00000000};
          const std::uint32_t v = extremes[below(std::size(extremes))];
          for (std::size_t k = 0; k < 4 && at + k < b.size(); ++k)
            b[at + k] = static_cast<std::byte>(v >> (24 - 8 * k));
        }
      }
    }
    return b;
  }

 private:
  std::mt19937 rng_;
};

// The bodies of whole typed messages.
std::vector<Buffer> bodies_of(const std::vector<Buffer>& messages) {
  std::vector<Buffer> bodies;
  for (const Buffer& m : messages) bodies.emplace_back(m.begin() + 5, m.end());
  return bodies;
}

// The message a decoder should re-create from an accepted body.
Buffer message_of(char type, Bytes body) {
  Buffer b;
  MessageWriter(b, type).bytes(body);
  return b;
}

// Runs every decoder over one body; returns how many re-encodings differed.
std::size_t check_all(std::vector<Decoder>& decoders, const Buffer& body) {
  std::size_t mismatches = 0;
  std::vector<Buffer> encodings;
  for (Decoder& d : decoders) {
    encodings.clear();
    if (!d.run(body, encodings)) continue;
    ++d.accepted;
    const Buffer expected = message_of(d.type, body);
    for (const Buffer& e : encodings) {
      if (e == expected) continue;
      if (++mismatches <= 5) FAIL_CHECK(d.name << " re-encodes " << hex(body) << "as " << hex(e));
    }
  }
  return mismatches;
}

}  // namespace

TEST_CASE("random and mutated bodies never break a decoder", "[proto][robustness]") {
  std::vector<Decoder> fe_decoders = frontend_decoders();
  std::vector<Decoder> be_decoders = backend_decoders();
  std::vector<Buffer> corpus = bodies_of(frontend_samples());
  for (Buffer& b : bodies_of(backend_samples())) corpus.push_back(std::move(b));

  Garbage garbage(seed);
  std::size_t mismatches = 0;
  const auto feed = [&](const Buffer& body) {
    mismatches += check_all(fe_decoders, body);
    mismatches += check_all(be_decoders, body);
  };
  for (const Buffer& valid : corpus) feed(valid);
  for (int i = 0; i < 50000; ++i) feed(garbage.random_body());
  for (int i = 0; i < 50000; ++i) feed(garbage.mutate(corpus[garbage.below(corpus.size())]));

  CHECK(mismatches == 0);
  // Every decoder accepted at least its own sample, so the run exercised
  // acceptance and re-encoding of every message type.
  for (const Decoder& d : fe_decoders) {
    INFO("frontend " << d.name);
    CHECK(d.accepted > 0);
  }
  for (const Decoder& d : be_decoders) {
    INFO("backend " << d.name);
    CHECK(d.accepted > 0);
  }
}

TEST_CASE("random bytes never break framing", "[proto][robustness]") {
  Garbage garbage(seed + 1);
  std::vector<Decoder> fe_decoders = frontend_decoders();
  std::vector<Decoder> be_decoders = backend_decoders();
  std::size_t bad = 0;
  std::size_t framed = 0;
  std::vector<Buffer> encodings;
  for (int i = 0; i < 100000; ++i) {
    const Direction direction = i % 2 == 0 ? Direction::frontend : Direction::backend;
    std::vector<Decoder>& decoders = i % 2 == 0 ? fe_decoders : be_decoders;
    // A real type byte and a small length most of the time, to get past the header.
    Buffer data = garbage.random_body();
    if (data.size() >= 5 && garbage.below(4) != 0) {
      data[0] = static_cast<std::byte>(decoders[garbage.below(decoders.size())].type);
      data[1] = data[2] = std::byte{0};
      data[3] = std::byte{0};
      data[4] = static_cast<std::byte>(4 + garbage.below(64));
    }
    const FrameResult r = decode_frame(data, any_message_of(direction));
    if (r.status != DecodeStatus::ok) continue;
    ++framed;
    if (r.consumed > data.size() || r.frame.body.data() != data.data() + 5 ||
        r.consumed != r.frame.total_size())
      ++bad;
    const Bytes message = Bytes(data).first(r.consumed);
    for (Decoder& d : decoders) {
      if (d.type != r.frame.type) continue;
      encodings.clear();
      if (!d.run(r.frame.body, encodings)) continue;
      for (const Buffer& e : encodings)
        if (!std::ranges::equal(e, message)) ++bad;
    }
  }
  CHECK(bad == 0);
  CHECK(framed > 10000);
}

TEST_CASE("random startup packets never break startup decoding", "[proto][robustness]") {
  Garbage garbage(seed + 2);
  std::vector<StartupDecoder> decoders = startup_decoders();
  std::vector<Buffer> samples = startup_samples();
  static constexpr std::uint32_t codes[] = {
      protocol_version_3_0, (3U << 16) | 2U,     2U << 16,
      ssl_request_code,     gssenc_request_code, cancel_request_code};
  std::size_t mismatches = 0;
  std::vector<Buffer> encodings;
  for (int i = 0; i < 100000; ++i) {
    Buffer data;
    if (i % 2 == 0) {
      data = garbage.mutate(samples[garbage.below(samples.size())]);
    } else {
      // A consistent length and a known code, then random parameters.
      const Buffer body = garbage.random_body();
      MessageWriter w = MessageWriter::untyped(data);
      w.u32(codes[garbage.below(std::size(codes))]).bytes(body);
    }
    const StartupResult r = decode_startup(data);
    if (r.status != DecodeStatus::ok) continue;
    const Bytes packet = Bytes(data).first(r.consumed);
    for (StartupDecoder& d : decoders) {
      encodings.clear();
      if (!d.run(r.frame, encodings)) continue;
      ++d.accepted;
      for (const Buffer& e : encodings) {
        if (std::ranges::equal(e, packet)) continue;
        if (++mismatches <= 5)
          FAIL_CHECK(d.name << " re-encodes " << hex(packet) << "as " << hex(e));
      }
    }
  }
  CHECK(mismatches == 0);
  for (const StartupDecoder& d : decoders) {
    INFO(d.name);
    CHECK(d.accepted > 0);
  }
}

namespace {

struct Framed {
  char type;
  Buffer body;
  friend bool operator==(const Framed&, const Framed&) = default;
};

// Frames everything in `data`, which must hold whole messages only.
std::vector<Framed> frame_whole(Bytes data, const FrameRules& rules) {
  std::vector<Framed> out;
  while (!data.empty()) {
    const FrameResult r = decode_frame(data, rules);
    REQUIRE(r.status == DecodeStatus::ok);
    out.push_back({r.frame.type, Buffer(r.frame.body.begin(), r.frame.body.end())});
    data = data.subspan(r.consumed);
  }
  return out;
}

// Feeds `data` in random chunks into a receive buffer, framing whatever is
// whole after each chunk, as a connection would.
std::vector<Framed> frame_in_chunks(Bytes data, const FrameRules& rules, Garbage& garbage,
                                    std::size_t skip_startup_packets = 0) {
  std::vector<Framed> out;
  Buffer received;
  std::size_t parsed = 0;  // bytes of `received` already framed
  std::size_t fed = 0;
  while (fed < data.size()) {
    // Mostly small chunks, to split headers; sometimes large ones, to batch.
    const std::size_t max_chunk = garbage.below(8) == 0 ? 512 : 7;
    const std::size_t n = std::min(data.size() - fed, 1 + garbage.below(max_chunk));
    const Bytes chunk = data.subspan(fed, n);
    received.insert(received.end(), chunk.begin(), chunk.end());
    fed += n;
    for (;;) {
      const Bytes pending = Bytes(received).subspan(parsed);
      if (skip_startup_packets > 0) {
        const StartupResult s = decode_startup(pending);
        if (s.status == DecodeStatus::need_more) break;
        REQUIRE(s.status == DecodeStatus::ok);
        out.push_back({'\0', Buffer(s.frame.body.begin(), s.frame.body.end())});
        parsed += s.consumed;
        --skip_startup_packets;
        continue;
      }
      const FrameResult r = decode_frame(pending, rules);
      if (r.status == DecodeStatus::need_more) break;
      REQUIRE(r.status == DecodeStatus::ok);
      out.push_back({r.frame.type, Buffer(r.frame.body.begin(), r.frame.body.end())});
      parsed += r.consumed;
    }
    // Drop framed bytes now and then, as a receive buffer compacts.
    if (garbage.below(4) == 0) {
      received.erase(received.begin(), received.begin() + static_cast<std::ptrdiff_t>(parsed));
      parsed = 0;
    }
  }
  CHECK(parsed == received.size());
  return out;
}

Buffer stream_of(const std::vector<Buffer>& samples, std::size_t count, Garbage& garbage) {
  Buffer stream;
  for (std::size_t i = 0; i < count; ++i) {
    const Buffer& m = samples[garbage.below(samples.size())];
    stream.insert(stream.end(), m.begin(), m.end());
  }
  return stream;
}

}  // namespace

TEST_CASE("a stream split anywhere frames like the whole stream", "[proto][robustness]") {
  Garbage garbage(seed + 3);
  for (const Direction direction : {Direction::frontend, Direction::backend}) {
    const FrameRules rules = any_message_of(direction);
    const std::vector<Buffer> samples =
        direction == Direction::frontend ? frontend_samples() : backend_samples();
    const Buffer stream = stream_of(samples, 3000, garbage);
    const std::vector<Framed> whole = frame_whole(stream, rules);
    CHECK(whole.size() == 3000);
    for (int round = 0; round < 3; ++round) {
      INFO((direction == Direction::frontend ? "frontend" : "backend") << " round " << round);
      CHECK(frame_in_chunks(stream, rules, garbage) == whole);
    }
  }
}

TEST_CASE("a client stream split anywhere frames its startup, then its messages",
          "[proto][robustness]") {
  Garbage garbage(seed + 4);
  Buffer stream;
  SSLRequest{}.encode(stream);
  const StartupParameter params[] = {{"user", "alice"}, {"database", "app"}};
  StartupMessage::encode(stream, params);
  const Buffer messages = stream_of(frontend_samples(), 500, garbage);
  stream.insert(stream.end(), messages.begin(), messages.end());

  const FrameRules rules = any_message_of(Direction::frontend);
  std::vector<Framed> expected = {
      {'\0', {}},
      {'\0',
       Buffer(stream.begin() + 16, stream.end() - static_cast<std::ptrdiff_t>(messages.size()))}};
  for (Framed& f : frame_whole(messages, rules)) expected.push_back(std::move(f));
  for (int round = 0; round < 5; ++round) {
    INFO("round " << round);
    CHECK(frame_in_chunks(stream, rules, garbage, 2) == expected);
  }
}
