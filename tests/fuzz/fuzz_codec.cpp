// libFuzzer target: framing in both directions and every message decoder of pggat/proto.
//
// The first input byte picks the direction and the protocol state (the type
// set FrameRules allows) and a small length cap now and then; the rest is a
// byte stream split into frames exactly as the relay does. Each whole frame
// goes to every decoder its type byte can mean, each decoded message is
// walked (lists iterated, fields looked up), encoded again, and must decode
// again: what pggat accepted, it must be able to write back.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/frame.hpp"
#include "pggat/proto/frontend.hpp"
#include "proto/conversation.hpp"

namespace {

using namespace pggat::proto;
using pggat::fuzz::require;

// Encodes a decoded message and decodes the result's body again.
template <class Message>
void round_trip(const Message& m) {
  Buffer out;
  m.encode(out);
  require(out.size() >= FrameHeader::size, "encoded message shorter than its header");
  require(static_cast<char>(out[0]) == Message::type, "encoded message has another type byte");
  const std::size_t length = (std::to_integer<std::size_t>(out[1]) << 24) |
                             (std::to_integer<std::size_t>(out[2]) << 16) |
                             (std::to_integer<std::size_t>(out[3]) << 8) |
                             std::to_integer<std::size_t>(out[4]);
  require(length + 1 == out.size(), "encoded length field does not match the message");
  const Bytes body = Bytes(out).subspan(FrameHeader::size);
  require(Message::decode(body).has_value(), "a decoded message does not decode after encoding");
}

template <class Message>
void try_decode(Bytes body) {
  if (const auto m = Message::decode(body)) round_trip(*m);
}

template <class List>
std::size_t walk(const List& list) {
  std::size_t n = 0;
  for (auto it = list.begin(); it != list.end(); ++it) {
    (void)*it;
    ++n;
  }
  require(n == list.size(), "a list iterates a different number of elements than its size");
  return n;
}

void decode_frontend(char type, Bytes body) {
  switch (type) {
    case 'B':
      if (const auto m = fe::Bind::decode(body)) {
        walk(m->param_formats);
        walk(m->params);
        walk(m->result_formats);
        round_trip(*m);
      }
      break;
    case 'C': try_decode<fe::Close>(body); break;
    case 'd': try_decode<fe::CopyData>(body); break;
    case 'c': try_decode<fe::CopyDone>(body); break;
    case 'f': try_decode<fe::CopyFail>(body); break;
    case 'D': try_decode<fe::Describe>(body); break;
    case 'E': try_decode<fe::Execute>(body); break;
    case 'H': try_decode<fe::Flush>(body); break;
    case 'F':
      if (const auto m = fe::FunctionCall::decode(body)) {
        walk(m->arg_formats);
        walk(m->args);
        round_trip(*m);
      }
      break;
    case 'p':
      // Which one depends on the authentication in progress: try them all.
      try_decode<fe::GSSResponse>(body);
      try_decode<fe::PasswordMessage>(body);
      try_decode<fe::SASLInitialResponse>(body);
      try_decode<fe::SASLResponse>(body);
      break;
    case 'P':
      if (const auto m = fe::Parse::decode(body)) {
        walk(m->param_types);
        round_trip(*m);
      }
      break;
    case 'Q': try_decode<fe::Query>(body); break;
    case 'S': try_decode<fe::Sync>(body); break;
    case 'X': try_decode<fe::Terminate>(body); break;
    default: break;
  }
}

void decode_authentication(Bytes body) {
  const auto code = be::auth_code(body);
  if (!code) return;
  switch (*code) {
    case be::AuthCode::ok: try_decode<be::AuthenticationOk>(body); break;
    case be::AuthCode::kerberos_v5: try_decode<be::AuthenticationKerberosV5>(body); break;
    case be::AuthCode::cleartext_password:
      try_decode<be::AuthenticationCleartextPassword>(body);
      break;
    case be::AuthCode::md5_password: try_decode<be::AuthenticationMD5Password>(body); break;
    case be::AuthCode::scm_credential: try_decode<be::AuthenticationSCMCredential>(body); break;
    case be::AuthCode::gss: try_decode<be::AuthenticationGSS>(body); break;
    case be::AuthCode::gss_continue: try_decode<be::AuthenticationGSSContinue>(body); break;
    case be::AuthCode::sspi: try_decode<be::AuthenticationSSPI>(body); break;
    case be::AuthCode::sasl:
      if (const auto m = be::AuthenticationSASL::decode(body)) {
        walk(m->mechanisms);
        round_trip(*m);
      }
      break;
    case be::AuthCode::sasl_continue: try_decode<be::AuthenticationSASLContinue>(body); break;
    case be::AuthCode::sasl_final: try_decode<be::AuthenticationSASLFinal>(body); break;
    default: break;  // a code no enumerator names: the caller refuses it
  }
}

template <class Diagnostic>
void decode_diagnostic(Bytes body) {
  if (const auto m = Diagnostic::decode(body)) {
    walk(m->fields);
    (void)m->find(be::error_field::sqlstate);
    (void)m->find(be::error_field::message);
    (void)m->to_pg_error();
    round_trip(*m);
  }
}

void decode_backend(char type, Bytes body) {
  switch (type) {
    case 'R': decode_authentication(body); break;
    case 'K': try_decode<be::BackendKeyData>(body); break;
    case '2': try_decode<be::BindComplete>(body); break;
    case '3': try_decode<be::CloseComplete>(body); break;
    case 'C': try_decode<be::CommandComplete>(body); break;
    case 'd': try_decode<be::CopyData>(body); break;
    case 'c': try_decode<be::CopyDone>(body); break;
    case 'G':
    case 'H':
    case 'W':
      if (type == 'G') try_decode<be::CopyInResponse>(body);
      if (type == 'H') try_decode<be::CopyOutResponse>(body);
      if (type == 'W') try_decode<be::CopyBothResponse>(body);
      break;
    case 'D':
      if (const auto m = be::DataRow::decode(body)) {
        walk(m->columns);
        round_trip(*m);
      }
      break;
    case 'I': try_decode<be::EmptyQueryResponse>(body); break;
    case 'E': decode_diagnostic<be::ErrorResponse>(body); break;
    case 'N': decode_diagnostic<be::NoticeResponse>(body); break;
    case 'V': try_decode<be::FunctionCallResponse>(body); break;
    case 'v':
      if (const auto m = be::NegotiateProtocolVersion::decode(body)) {
        walk(m->unrecognized_options);
        round_trip(*m);
      }
      break;
    case 'n': try_decode<be::NoData>(body); break;
    case 'A': try_decode<be::NotificationResponse>(body); break;
    case 't':
      if (const auto m = be::ParameterDescription::decode(body)) {
        walk(m->type_oids);
        round_trip(*m);
      }
      break;
    case 'S': try_decode<be::ParameterStatus>(body); break;
    case '1': try_decode<be::ParseComplete>(body); break;
    case 's': try_decode<be::PortalSuspended>(body); break;
    case 'Z': try_decode<be::ReadyForQuery>(body); break;
    case 'T':
      if (const auto m = be::RowDescription::decode(body)) {
        walk(m->fields);
        round_trip(*m);
      }
      break;
    default: break;
  }
}

FrameRules rules_for(std::uint8_t selector) {
  FrameRules rules;
  rules.direction = (selector & 1) != 0 ? Direction::backend : Direction::frontend;
  switch ((selector >> 1) & 3) {
    case 0:
      rules.allowed = rules.direction == Direction::frontend ? states::frontend_ready
                                                             : states::backend_ready;
      break;
    case 1:
      rules.allowed = rules.direction == Direction::frontend ? states::frontend_authenticating
                                                             : states::backend_startup;
      break;
    default:
      rules.allowed = TypeSet::all_of(messages_of(rules.direction));
      break;
  }
  // Now and then a tiny cap, so that too_large is reached with small inputs.
  if ((selector & 0x80) != 0) rules.max_length = 16 + (selector & 0x3f);
  return rules;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const FrameRules rules = rules_for(data[0]);
  Bytes rest(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  Conversation conversation;
  while (!rest.empty()) {
    const HeaderResult header = decode_header(rest, rules);
    const FrameResult r = decode_frame(rest, rules);
    require(r.status == header.status || header.status == DecodeStatus::ok,
            "decode_frame and decode_header disagree");
    if (r.status == DecodeStatus::invalid) {
      (void)describe(r.error, rules.direction, header.header);
      require(r.error != FrameError::none, "an invalid frame without an error");
      break;
    }
    if (r.status == DecodeStatus::need_more) break;
    require(r.consumed == r.frame.total_size() && r.consumed <= rest.size(),
            "a frame claims more bytes than it has");
    require(r.frame.body.size() + 4 <= rules.max_length, "a frame above the length cap passed");
    require(rules.allowed.contains(r.frame.type), "a frame of a type the state refuses passed");
    if (rules.direction == Direction::frontend) {
      decode_frontend(r.frame.type, r.frame.body);
      conversation.on_client(r.frame.type);
    } else {
      decode_backend(r.frame.type, r.frame.body);
      conversation.on_server(r.frame.type, r.frame.body);
    }
    (void)conversation.idle();
    rest = rest.subspan(r.consumed);
  }
  return 0;
}
