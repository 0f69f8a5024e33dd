// Codec of the protocol 3.0 messages a server sends.
#include "pggat/proto/backend.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "pggat/proto/reader.hpp"
#include "pggat/proto/writer.hpp"

namespace pggat::proto::be {
namespace {

// A message whose whole body is one NUL-terminated string.
std::optional<std::string_view> decode_one_cstring(Bytes body) {
  BodyReader r(body);
  const std::string_view s = r.cstring();
  if (!r.done()) return std::nullopt;
  return s;
}

// Reads the auth code and checks it is the one a decoder expects.
bool read_auth_code(BodyReader& r, AuthCode expected) {
  return r.i32() == static_cast<std::int32_t>(expected) && r.ok();
}

void write_auth_code(MessageWriter& w, AuthCode code) {
  w.i32(static_cast<std::int32_t>(code));
}

template <class MechanismRange>
void encode_sasl(Buffer& out, const MechanismRange& mechanisms) {
  MessageWriter w(out, AuthenticationSASL::type);
  write_auth_code(w, AuthenticationSASL::code);
  write_terminated<CStringElement>(w, mechanisms);
}

template <class FormatRange>
void encode_copy_response(Buffer& out, char type, std::int8_t overall_format,
                          const FormatRange& column_formats) {
  MessageWriter w(out, type);
  w.u8(static_cast<std::uint8_t>(overall_format));
  write_counted16<Int16Element>(w, column_formats);
}

template <class ValueRange>
void encode_data_row(Buffer& out, const ValueRange& columns) {
  MessageWriter w(out, DataRow::type);
  write_counted16<NullableBytesElement>(w, columns);
}

template <class FieldRange>
void encode_diagnostic(Buffer& out, char type, const FieldRange& fields) {
  MessageWriter w(out, type);
  write_terminated<ErrorFieldElement>(w, fields);
}

template <class OptionRange>
void encode_negotiate(Buffer& out, std::int32_t newest_minor, const OptionRange& options) {
  assert(std::size(options) <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
  MessageWriter w(out, NegotiateProtocolVersion::type);
  w.i32(newest_minor).i32(static_cast<std::int32_t>(std::size(options)));
  for (const std::string_view option : options) CStringElement::write(w, option);
}

template <class OidRange>
void encode_parameter_description(Buffer& out, const OidRange& type_oids) {
  MessageWriter w(out, ParameterDescription::type);
  write_counted16<OidElement>(w, type_oids);
}

template <class FieldRange>
void encode_row_description(Buffer& out, const FieldRange& fields) {
  MessageWriter w(out, RowDescription::type);
  write_counted16<FieldDescriptionElement>(w, fields);
}

}  // namespace

std::optional<AuthCode> auth_code(Bytes body) {
  BodyReader r(body);
  const std::int32_t code = r.i32();
  if (!r.ok()) return std::nullopt;
  return static_cast<AuthCode>(code);
}

// ---- Authentication ----

template <AuthCode Code>
std::optional<AuthenticationRequest<Code>> AuthenticationRequest<Code>::decode(Bytes body) {
  BodyReader r(body);
  if (!read_auth_code(r, Code) || !r.done()) return std::nullopt;
  return AuthenticationRequest{};
}

template <AuthCode Code>
void AuthenticationRequest<Code>::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_auth_code(w, Code);
}

template <AuthCode Code>
std::optional<AuthenticationData<Code>> AuthenticationData<Code>::decode(Bytes body) {
  BodyReader r(body);
  if (!read_auth_code(r, Code)) return std::nullopt;
  return AuthenticationData{r.rest()};
}

template <AuthCode Code>
void AuthenticationData<Code>::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_auth_code(w, Code);
  w.bytes(data);
}

std::optional<AuthenticationMD5Password> AuthenticationMD5Password::decode(Bytes body) {
  BodyReader r(body);
  if (!read_auth_code(r, code)) return std::nullopt;
  const Bytes salt = r.bytes(4);
  if (!r.done()) return std::nullopt;
  AuthenticationMD5Password m;
  std::copy(salt.begin(), salt.end(), m.salt.begin());
  return m;
}

void AuthenticationMD5Password::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_auth_code(w, code);
  w.bytes(salt);
}

std::optional<AuthenticationSASL> AuthenticationSASL::decode(Bytes body) {
  BodyReader r(body);
  if (!read_auth_code(r, code)) return std::nullopt;
  auto mechanisms = StringList::read_terminated(r);
  if (!mechanisms || !r.done()) return std::nullopt;
  return AuthenticationSASL{*mechanisms};
}

void AuthenticationSASL::encode(Buffer& out) const {
  encode_sasl(out, mechanisms);
}

void AuthenticationSASL::encode(Buffer& out, std::span<const std::string_view> mechanisms) {
  encode_sasl(out, mechanisms);
}

// ---- Messages without lists ----

template <char Type>
std::optional<EmptyMessage<Type>> EmptyMessage<Type>::decode(Bytes body) {
  if (!body.empty()) return std::nullopt;
  return EmptyMessage{};
}

template <char Type>
void EmptyMessage<Type>::encode(Buffer& out) const {
  MessageWriter w(out, Type);
}

std::optional<BackendKeyData> BackendKeyData::decode(Bytes body) {
  BodyReader r(body);
  BackendKeyData m;
  m.process_id = r.i32();
  m.secret_key = r.i32();
  if (!r.done()) return std::nullopt;
  return m;
}

void BackendKeyData::encode(Buffer& out) const {
  MessageWriter(out, type).i32(process_id).i32(secret_key);
}

std::optional<CommandComplete> CommandComplete::decode(Bytes body) {
  const auto tag = decode_one_cstring(body);
  if (!tag) return std::nullopt;
  return CommandComplete{*tag};
}

void CommandComplete::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_cstring(w, tag);
}

std::optional<CopyData> CopyData::decode(Bytes body) {
  return CopyData{body};
}

void CopyData::encode(Buffer& out) const {
  MessageWriter(out, type).bytes(data);
}

std::optional<FunctionCallResponse> FunctionCallResponse::decode(Bytes body) {
  BodyReader r(body);
  FunctionCallResponse m;
  if (!NullableBytesElement::read(r, m.result) || !r.done()) return std::nullopt;
  return m;
}

void FunctionCallResponse::encode(Buffer& out) const {
  MessageWriter w(out, type);
  NullableBytesElement::write(w, result);
}

std::optional<NotificationResponse> NotificationResponse::decode(Bytes body) {
  BodyReader r(body);
  NotificationResponse m;
  m.process_id = r.i32();
  m.channel = r.cstring();
  m.payload = r.cstring();
  if (!r.done()) return std::nullopt;
  return m;
}

void NotificationResponse::encode(Buffer& out) const {
  MessageWriter w(out, type);
  w.i32(process_id);
  write_cstring(w, channel);
  write_cstring(w, payload);
}

std::optional<ParameterStatus> ParameterStatus::decode(Bytes body) {
  BodyReader r(body);
  ParameterStatus m;
  m.name = r.cstring();
  m.value = r.cstring();
  if (!r.done()) return std::nullopt;
  return m;
}

void ParameterStatus::encode(Buffer& out) const {
  MessageWriter w(out, type);
  write_cstring(w, name);
  write_cstring(w, value);
}

std::optional<ReadyForQuery> ReadyForQuery::decode(Bytes body) {
  BodyReader r(body);
  const char status = static_cast<char>(r.u8());
  if (!r.done()) return std::nullopt;
  switch (status) {
    case static_cast<char>(TransactionStatus::idle):
    case static_cast<char>(TransactionStatus::in_transaction):
    case static_cast<char>(TransactionStatus::failed):
      return ReadyForQuery{static_cast<TransactionStatus>(status)};
    default:
      return std::nullopt;
  }
}

void ReadyForQuery::encode(Buffer& out) const {
  MessageWriter(out, type).u8(static_cast<std::uint8_t>(status));
}

// ---- Messages with lists ----

template <char Type>
std::optional<CopyResponse<Type>> CopyResponse<Type>::decode(Bytes body) {
  BodyReader r(body);
  CopyResponse m;
  m.overall_format = static_cast<std::int8_t>(r.u8());
  auto formats = FormatList::read_counted(r, r.u16());
  if (!formats || !r.done()) return std::nullopt;
  m.column_formats = *formats;
  return m;
}

template <char Type>
void CopyResponse<Type>::encode(Buffer& out) const {
  encode_copy_response(out, Type, overall_format, column_formats);
}

template <char Type>
void CopyResponse<Type>::encode(Buffer& out, std::int8_t overall_format,
                                std::span<const std::int16_t> column_formats) {
  encode_copy_response(out, Type, overall_format, column_formats);
}

std::optional<DataRow> DataRow::decode(Bytes body) {
  BodyReader r(body);
  auto columns = ValueList::read_counted(r, r.u16());
  if (!columns || !r.done()) return std::nullopt;
  return DataRow{*columns};
}

void DataRow::encode(Buffer& out) const {
  encode_data_row(out, columns);
}

void DataRow::encode(Buffer& out, std::span<const std::optional<Bytes>> columns) {
  encode_data_row(out, columns);
}

template <char Type>
std::optional<std::string_view> DiagnosticMessage<Type>::find(char code) const {
  std::optional<std::string_view> found;
  for (const ErrorField& f : fields)
    if (f.code == code) found = f.value;
  return found;
}

template <char Type>
PgError DiagnosticMessage<Type>::to_pg_error() const {
  PgError e;
  const auto text = [this](char code) { return std::string(find(code).value_or("")); };
  const auto severity = find(error_field::severity_nonlocalized);
  e.severity = severity ? std::string(*severity) : text(error_field::severity);
  e.code = text(error_field::sqlstate);
  e.message = text(error_field::message);
  e.detail = text(error_field::detail);
  e.hint = text(error_field::hint);
  return e;
}

template <char Type>
std::optional<DiagnosticMessage<Type>> DiagnosticMessage<Type>::decode(Bytes body) {
  BodyReader r(body);
  auto fields = ErrorFieldList::read_terminated(r);
  if (!fields || !r.done()) return std::nullopt;
  return DiagnosticMessage{*fields};
}

template <char Type>
void DiagnosticMessage<Type>::encode(Buffer& out) const {
  encode_diagnostic(out, Type, fields);
}

template <char Type>
void DiagnosticMessage<Type>::encode(Buffer& out, std::span<const ErrorField> fields) {
  encode_diagnostic(out, Type, fields);
}

template <char Type>
void DiagnosticMessage<Type>::encode(Buffer& out, const PgError& error) {
  std::array<ErrorField, 6> fields;
  std::size_t n = 0;
  fields[n++] = {error_field::severity, error.severity};
  fields[n++] = {error_field::severity_nonlocalized, error.severity};
  fields[n++] = {error_field::sqlstate, error.code};
  fields[n++] = {error_field::message, error.message};
  if (!error.detail.empty()) fields[n++] = {error_field::detail, error.detail};
  if (!error.hint.empty()) fields[n++] = {error_field::hint, error.hint};
  encode_diagnostic(out, Type, std::span<const ErrorField>(fields.data(), n));
}

std::optional<NegotiateProtocolVersion> NegotiateProtocolVersion::decode(Bytes body) {
  BodyReader r(body);
  NegotiateProtocolVersion m;
  m.newest_minor = r.i32();
  const std::int32_t count = r.i32();
  if (count < 0) return std::nullopt;
  auto options = StringList::read_counted(r, static_cast<std::size_t>(count));
  if (!options || !r.done()) return std::nullopt;
  m.unrecognized_options = *options;
  return m;
}

void NegotiateProtocolVersion::encode(Buffer& out) const {
  MessageWriter w(out, type);
  w.i32(newest_minor).i32(static_cast<std::int32_t>(unrecognized_options.size()));
  w.bytes(unrecognized_options.raw());
}

void NegotiateProtocolVersion::encode(Buffer& out, std::int32_t newest_minor,
                                      std::span<const std::string_view> unrecognized_options) {
  encode_negotiate(out, newest_minor, unrecognized_options);
}

std::optional<ParameterDescription> ParameterDescription::decode(Bytes body) {
  BodyReader r(body);
  auto oids = OidList::read_counted(r, r.u16());
  if (!oids || !r.done()) return std::nullopt;
  return ParameterDescription{*oids};
}

void ParameterDescription::encode(Buffer& out) const {
  encode_parameter_description(out, type_oids);
}

void ParameterDescription::encode(Buffer& out, std::span<const std::uint32_t> type_oids) {
  encode_parameter_description(out, type_oids);
}

std::optional<RowDescription> RowDescription::decode(Bytes body) {
  BodyReader r(body);
  auto fields = FieldList::read_counted(r, r.u16());
  if (!fields || !r.done()) return std::nullopt;
  return RowDescription{*fields};
}

void RowDescription::encode(Buffer& out) const {
  encode_row_description(out, fields);
}

void RowDescription::encode(Buffer& out, std::span<const FieldDescription> fields) {
  encode_row_description(out, fields);
}

template struct AuthenticationRequest<AuthCode::ok>;
template struct AuthenticationRequest<AuthCode::kerberos_v5>;
template struct AuthenticationRequest<AuthCode::cleartext_password>;
template struct AuthenticationRequest<AuthCode::scm_credential>;
template struct AuthenticationRequest<AuthCode::gss>;
template struct AuthenticationRequest<AuthCode::sspi>;
template struct AuthenticationData<AuthCode::gss_continue>;
template struct AuthenticationData<AuthCode::sasl_continue>;
template struct AuthenticationData<AuthCode::sasl_final>;
template struct EmptyMessage<'2'>;
template struct EmptyMessage<'3'>;
template struct EmptyMessage<'c'>;
template struct EmptyMessage<'I'>;
template struct EmptyMessage<'n'>;
template struct EmptyMessage<'1'>;
template struct EmptyMessage<'s'>;
template struct CopyResponse<'G'>;
template struct CopyResponse<'H'>;
template struct CopyResponse<'W'>;
template struct DiagnosticMessage<'E'>;
template struct DiagnosticMessage<'N'>;

}  // namespace pggat::proto::be
