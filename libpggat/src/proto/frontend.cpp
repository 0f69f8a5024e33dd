// Codec of the protocol 3.0 messages a client sends.
#include "pggat/proto/frontend.hpp"

#include "pggat/proto/reader.hpp"
#include "pggat/proto/writer.hpp"

namespace pggat::proto::fe {
namespace {

// Body-less messages are valid only when nothing follows their header.
template <class Message>
std::optional<Message> decode_empty(Bytes body) {
  if (!body.empty()) return std::nullopt;
  return Message{};
}

template <class Message>
void encode_empty(Buffer& out) {
  MessageWriter w(out, Message::type);
}

// A message whose whole body is one NUL-terminated string.
std::optional<std::string_view> decode_one_cstring(Bytes body) {
  BodyReader r(body);
  const std::string_view s = r.cstring();
  if (!r.done()) return std::nullopt;
  return s;
}

std::optional<Target> target_of(std::uint8_t byte) {
  const char c = static_cast<char>(byte);
  if (c != static_cast<char>(Target::statement) && c != static_cast<char>(Target::portal))
    return std::nullopt;
  return static_cast<Target>(c);
}

// Close and Describe share their layout: a target byte and a name.
template <class Message>
std::optional<Message> decode_targeted(Bytes body) {
  BodyReader r(body);
  const std::optional<Target> target = target_of(r.u8());
  const std::string_view name = r.cstring();
  if (!target || !r.done()) return std::nullopt;
  return Message{*target, name};
}

template <class Message>
void encode_targeted(Buffer& out, const Message& m) {
  MessageWriter w(out, Message::type);
  w.u8(static_cast<std::uint8_t>(m.target));
  write_cstring(w, m.name);
}

template <class FormatRange, class ValueRange>
void encode_bind(Buffer& out, std::string_view portal, std::string_view statement,
                 const FormatRange& param_formats, const ValueRange& params,
                 const FormatRange& result_formats) {
  MessageWriter w(out, Bind::type);
  write_cstring(w, portal);
  write_cstring(w, statement);
  write_counted16<Int16Element>(w, param_formats);
  write_counted16<NullableBytesElement>(w, params);
  write_counted16<Int16Element>(w, result_formats);
}

template <class FormatRange, class ValueRange>
void encode_function_call(Buffer& out, std::uint32_t function_oid, const FormatRange& arg_formats,
                          const ValueRange& args, std::int16_t result_format) {
  MessageWriter w(out, FunctionCall::type);
  w.u32(function_oid);
  write_counted16<Int16Element>(w, arg_formats);
  write_counted16<NullableBytesElement>(w, args);
  w.i16(result_format);
}

template <class OidRange>
void encode_parse(Buffer& out, std::string_view name, std::string_view query,
                  const OidRange& param_types) {
  MessageWriter w(out, Parse::type);
  write_cstring(w, name);
  write_cstring(w, query);
  write_counted16<OidElement>(w, param_types);
}

// A message whose whole body is opaque bytes.
void encode_raw(Buffer& out, char type, Bytes data) {
  MessageWriter(out, type).bytes(data);
}

}  // namespace

std::optional<Bind> Bind::decode(Bytes body) {
  BodyReader r(body);
  Bind m;
  m.portal = r.cstring();
  m.statement = r.cstring();
  auto param_formats = FormatList::read_counted(r, r.u16());
  if (!param_formats) return std::nullopt;
  auto params = ValueList::read_counted(r, r.u16());
  if (!params) return std::nullopt;
  auto result_formats = FormatList::read_counted(r, r.u16());
  if (!result_formats || !r.done()) return std::nullopt;
  m.param_formats = *param_formats;
  m.params = *params;
  m.result_formats = *result_formats;
  return m;
}

void Bind::encode(Buffer& out) const {
  encode_bind(out, portal, statement, param_formats, params, result_formats);
}

void Bind::encode(Buffer& out, std::string_view portal, std::string_view statement,
                  std::span<const std::int16_t> param_formats,
                  std::span<const std::optional<Bytes>> params,
                  std::span<const std::int16_t> result_formats) {
  encode_bind(out, portal, statement, param_formats, params, result_formats);
}

std::optional<Close> Close::decode(Bytes body) {
  return decode_targeted<Close>(body);
}
void Close::encode(Buffer& out) const {
  encode_targeted(out, *this);
}

std::optional<CopyData> CopyData::decode(Bytes body) {
  return CopyData{body};
}
void CopyData::encode(Buffer& out) const {
  encode_raw(out, type, data);
}

std::optional<CopyDone> CopyDone::decode(Bytes body) {
  return decode_empty<CopyDone>(body);
}
void CopyDone::encode(Buffer& out) const {
  encode_empty<CopyDone>(out);
}

std::optional<CopyFail> CopyFail::decode(Bytes body) {
  const auto message = decode_one_cstring(body);
  if (!message) return std::nullopt;
  return CopyFail{*message};
}
void CopyFail::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_cstring(w, message);
}

std::optional<Describe> Describe::decode(Bytes body) {
  return decode_targeted<Describe>(body);
}
void Describe::encode(Buffer& out) const {
  encode_targeted(out, *this);
}

std::optional<Execute> Execute::decode(Bytes body) {
  BodyReader r(body);
  Execute m;
  m.portal = r.cstring();
  m.max_rows = r.i32();
  if (!r.done()) return std::nullopt;
  return m;
}
void Execute::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_cstring(w, portal);
  w.i32(max_rows);
}

std::optional<Flush> Flush::decode(Bytes body) {
  return decode_empty<Flush>(body);
}
void Flush::encode(Buffer& out) const {
  encode_empty<Flush>(out);
}

std::optional<FunctionCall> FunctionCall::decode(Bytes body) {
  BodyReader r(body);
  FunctionCall m;
  m.function_oid = r.u32();
  auto arg_formats = FormatList::read_counted(r, r.u16());
  if (!arg_formats) return std::nullopt;
  auto args = ValueList::read_counted(r, r.u16());
  if (!args) return std::nullopt;
  m.result_format = r.i16();
  if (!r.done()) return std::nullopt;
  m.arg_formats = *arg_formats;
  m.args = *args;
  return m;
}

void FunctionCall::encode(Buffer& out) const {
  encode_function_call(out, function_oid, arg_formats, args, result_format);
}

void FunctionCall::encode(Buffer& out, std::uint32_t function_oid,
                          std::span<const std::int16_t> arg_formats,
                          std::span<const std::optional<Bytes>> args, std::int16_t result_format) {
  encode_function_call(out, function_oid, arg_formats, args, result_format);
}

std::optional<GSSResponse> GSSResponse::decode(Bytes body) {
  return GSSResponse{body};
}
void GSSResponse::encode(Buffer& out) const {
  encode_raw(out, type, data);
}

std::optional<Parse> Parse::decode(Bytes body) {
  BodyReader r(body);
  Parse m;
  m.name = r.cstring();
  m.query = r.cstring();
  auto param_types = OidList::read_counted(r, r.u16());
  if (!param_types || !r.done()) return std::nullopt;
  m.param_types = *param_types;
  return m;
}

void Parse::encode(Buffer& out) const {
  encode_parse(out, name, query, param_types);
}

void Parse::encode(Buffer& out, std::string_view name, std::string_view query,
                   std::span<const std::uint32_t> param_types) {
  encode_parse(out, name, query, param_types);
}

std::optional<PasswordMessage> PasswordMessage::decode(Bytes body) {
  const auto password = decode_one_cstring(body);
  if (!password) return std::nullopt;
  return PasswordMessage{*password};
}
void PasswordMessage::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_cstring(w, password);
}

std::optional<Query> Query::decode(Bytes body) {
  const auto sql = decode_one_cstring(body);
  if (!sql) return std::nullopt;
  return Query{*sql};
}
void Query::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_cstring(w, sql);
}

std::optional<SASLInitialResponse> SASLInitialResponse::decode(Bytes body) {
  BodyReader r(body);
  SASLInitialResponse m;
  m.mechanism = r.cstring();
  if (!NullableBytesElement::read(r, m.initial_response) || !r.done()) return std::nullopt;
  return m;
}
void SASLInitialResponse::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_cstring(w, mechanism);
  NullableBytesElement::write(w, initial_response);
}

std::optional<SASLResponse> SASLResponse::decode(Bytes body) {
  return SASLResponse{body};
}
void SASLResponse::encode(Buffer& out) const {
  encode_raw(out, type, data);
}

std::optional<Sync> Sync::decode(Bytes body) {
  return decode_empty<Sync>(body);
}
void Sync::encode(Buffer& out) const {
  encode_empty<Sync>(out);
}

std::optional<Terminate> Terminate::decode(Bytes body) {
  return decode_empty<Terminate>(body);
}
void Terminate::encode(Buffer& out) const {
  encode_empty<Terminate>(out);
}

}  // namespace pggat::proto::fe
