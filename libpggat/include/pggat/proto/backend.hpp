// Typed messages a server sends (protocol 3.0): decoded as views into a frame body, encoded whole.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "pggat/pg_error.hpp"
#include "pggat/export.hpp"
#include "pggat/proto/bytes.hpp"
#include "pggat/proto/wire_list.hpp"

// Every message has `static constexpr char type`, a [[nodiscard]] static
// decode(Bytes body) that validates the whole body (nullopt when invalid) and
// returns views into it, and encode(Buffer&) that appends the whole message.
// Messages with lists also have a static encode taking plain C++ values.
// Messages that differ only in their type byte (or auth code) are one template.
namespace pggat::proto::be {

using FormatList = WireList<Int16Element>;         // format codes: 0 text, 1 binary
using OidList = WireList<OidElement>;              // type OIDs
using ValueList = WireList<NullableBytesElement>;  // column values, nullopt for NULL
using StringList = WireList<CStringElement>;

// ---- Authentication ('R'): one type byte, told apart by an Int32 code ----

enum class AuthCode : std::int32_t {
  ok = 0,
  kerberos_v5 = 2,
  cleartext_password = 3,
  md5_password = 5,
  scm_credential = 6,
  gss = 7,
  gss_continue = 8,
  sspi = 9,
  sasl = 10,
  sasl_continue = 11,
  sasl_final = 12,
};

// The code at the front of an 'R' body, to pick the decoder; nullopt if the
// body is too short. The value may be one no enumerator names.
[[nodiscard]] PGGAT_API std::optional<AuthCode> auth_code(Bytes body);

// An Authentication message that is its code and nothing else.
template <AuthCode Code>
struct PGGAT_API AuthenticationRequest {
  static constexpr char type = 'R';
  static constexpr AuthCode code = Code;
  [[nodiscard]] static std::optional<AuthenticationRequest> decode(Bytes body);
  void encode(Buffer& out) const;
};

// An Authentication message whose code is followed by mechanism data.
template <AuthCode Code>
struct PGGAT_API AuthenticationData {
  static constexpr char type = 'R';
  static constexpr AuthCode code = Code;
  Bytes data;
  [[nodiscard]] static std::optional<AuthenticationData> decode(Bytes body);
  void encode(Buffer& out) const;
};

using AuthenticationOk = AuthenticationRequest<AuthCode::ok>;
using AuthenticationKerberosV5 = AuthenticationRequest<AuthCode::kerberos_v5>;
using AuthenticationCleartextPassword = AuthenticationRequest<AuthCode::cleartext_password>;
using AuthenticationSCMCredential = AuthenticationRequest<AuthCode::scm_credential>;
using AuthenticationGSS = AuthenticationRequest<AuthCode::gss>;
using AuthenticationSSPI = AuthenticationRequest<AuthCode::sspi>;
using AuthenticationGSSContinue = AuthenticationData<AuthCode::gss_continue>;
using AuthenticationSASLContinue = AuthenticationData<AuthCode::sasl_continue>;
using AuthenticationSASLFinal = AuthenticationData<AuthCode::sasl_final>;

struct PGGAT_API AuthenticationMD5Password {
  static constexpr char type = 'R';
  static constexpr AuthCode code = AuthCode::md5_password;
  std::array<std::byte, 4> salt{};
  [[nodiscard]] static std::optional<AuthenticationMD5Password> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API AuthenticationSASL {
  static constexpr char type = 'R';
  static constexpr AuthCode code = AuthCode::sasl;
  StringList mechanisms;  // in the server's order of preference; none is empty
  [[nodiscard]] static std::optional<AuthenticationSASL> decode(Bytes body);
  void encode(Buffer& out) const;
  // Empty names are skipped: on the wire an empty name ends the list.
  static void encode(Buffer& out, std::span<const std::string_view> mechanisms);
};

// ---- Everything else ----

// A message that is its type byte and nothing else.
template <char Type>
struct PGGAT_API EmptyMessage {
  static constexpr char type = Type;
  [[nodiscard]] static std::optional<EmptyMessage> decode(Bytes body);
  void encode(Buffer& out) const;
};

using BindComplete = EmptyMessage<'2'>;
using CloseComplete = EmptyMessage<'3'>;
using CopyDone = EmptyMessage<'c'>;
using EmptyQueryResponse = EmptyMessage<'I'>;
using NoData = EmptyMessage<'n'>;
using ParseComplete = EmptyMessage<'1'>;
using PortalSuspended = EmptyMessage<'s'>;

struct PGGAT_API BackendKeyData {
  static constexpr char type = 'K';
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
  [[nodiscard]] static std::optional<BackendKeyData> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API CommandComplete {
  static constexpr char type = 'C';
  std::string_view tag;  // e.g. "SELECT 1", "INSERT 0 5"
  [[nodiscard]] static std::optional<CommandComplete> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API CopyData {
  static constexpr char type = 'd';
  Bytes data;
  [[nodiscard]] static std::optional<CopyData> decode(Bytes body);
  void encode(Buffer& out) const;
};

// CopyInResponse, CopyOutResponse and CopyBothResponse share their layout.
template <char Type>
struct PGGAT_API CopyResponse {
  static constexpr char type = Type;
  std::int8_t overall_format = 0;  // 0 text, 1 binary
  FormatList column_formats;
  [[nodiscard]] static std::optional<CopyResponse> decode(Bytes body);
  void encode(Buffer& out) const;
  static void encode(Buffer& out, std::int8_t overall_format,
                     std::span<const std::int16_t> column_formats);
};

using CopyInResponse = CopyResponse<'G'>;
using CopyOutResponse = CopyResponse<'H'>;
using CopyBothResponse = CopyResponse<'W'>;

struct PGGAT_API DataRow {
  static constexpr char type = 'D';
  ValueList columns;
  [[nodiscard]] static std::optional<DataRow> decode(Bytes body);
  void encode(Buffer& out) const;
  static void encode(Buffer& out, std::span<const std::optional<Bytes>> columns);
};

// Field codes of ErrorResponse and NoticeResponse (protocol docs, "Error and
// Notice Message Fields").
namespace error_field {
inline constexpr char severity = 'S';  // possibly localized
inline constexpr char severity_nonlocalized = 'V';
inline constexpr char sqlstate = 'C';
inline constexpr char message = 'M';
inline constexpr char detail = 'D';
inline constexpr char hint = 'H';
inline constexpr char position = 'P';
inline constexpr char internal_position = 'p';
inline constexpr char internal_query = 'q';
inline constexpr char where = 'W';
inline constexpr char schema_name = 's';
inline constexpr char table_name = 't';
inline constexpr char column_name = 'c';
inline constexpr char data_type_name = 'd';
inline constexpr char constraint_name = 'n';
inline constexpr char file = 'F';
inline constexpr char line = 'L';
inline constexpr char routine = 'R';
}  // namespace error_field

struct PGGAT_API ErrorField {
  char code = 0;  // one of error_field; never 0, which ends the list
  std::string_view value;
  friend bool operator==(const ErrorField&, const ErrorField&) = default;
};

struct PGGAT_API ErrorFieldElement {
  using value_type = ErrorField;
  static constexpr std::size_t min_size = 2;
  static bool read(BodyReader& r, value_type& v) {
    v.code = static_cast<char>(r.u8());
    v.value = r.cstring();
    return true;
  }
  static void write(MessageWriter& w, const value_type& v) {
    w.u8(static_cast<std::uint8_t>(v.code));
    write_cstring(w, v.value);
  }
  static bool ends_list(const value_type& v) { return v.code == '\0'; }
};

using ErrorFieldList = WireList<ErrorFieldElement>;

// ErrorResponse and NoticeResponse share their layout.
template <char Type>
struct PGGAT_API DiagnosticMessage {
  static constexpr char type = Type;
  ErrorFieldList fields;
  // The value of a field; the last one if a code repeats, as libpq does.
  [[nodiscard]] std::optional<std::string_view> find(char code) const;
  // Severity from the non-localized field when present, else the localized one.
  [[nodiscard]] PgError to_pg_error() const;
  [[nodiscard]] static std::optional<DiagnosticMessage> decode(Bytes body);
  void encode(Buffer& out) const;
  // Fields with code 0 are skipped: on the wire a 0 code ends the list.
  static void encode(Buffer& out, std::span<const ErrorField> fields);
  // Fields S, V (both the severity), C, M, then D and H unless empty.
  static void encode(Buffer& out, const PgError& error);
};

using ErrorResponse = DiagnosticMessage<'E'>;
using NoticeResponse = DiagnosticMessage<'N'>;

struct PGGAT_API FunctionCallResponse {
  static constexpr char type = 'V';
  std::optional<Bytes> result;  // nullopt: NULL
  [[nodiscard]] static std::optional<FunctionCallResponse> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API NegotiateProtocolVersion {
  static constexpr char type = 'v';
  std::int32_t newest_minor = 0;  // newest minor version the server supports
  StringList unrecognized_options;
  [[nodiscard]] static std::optional<NegotiateProtocolVersion> decode(Bytes body);
  void encode(Buffer& out) const;
  static void encode(Buffer& out, std::int32_t newest_minor,
                     std::span<const std::string_view> unrecognized_options);
};

struct PGGAT_API NotificationResponse {
  static constexpr char type = 'A';
  std::int32_t process_id = 0;  // of the notifying backend
  std::string_view channel;
  std::string_view payload;
  [[nodiscard]] static std::optional<NotificationResponse> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API ParameterDescription {
  static constexpr char type = 't';
  OidList type_oids;
  [[nodiscard]] static std::optional<ParameterDescription> decode(Bytes body);
  void encode(Buffer& out) const;
  static void encode(Buffer& out, std::span<const std::uint32_t> type_oids);
};

struct PGGAT_API ParameterStatus {
  static constexpr char type = 'S';
  std::string_view name;
  std::string_view value;
  [[nodiscard]] static std::optional<ParameterStatus> decode(Bytes body);
  void encode(Buffer& out) const;
};

enum class TransactionStatus : char { idle = 'I', in_transaction = 'T', failed = 'E' };

struct PGGAT_API ReadyForQuery {
  static constexpr char type = 'Z';
  TransactionStatus status = TransactionStatus::idle;
  [[nodiscard]] static std::optional<ReadyForQuery> decode(Bytes body);
  void encode(Buffer& out) const;
};

// One column of a RowDescription.
struct PGGAT_API FieldDescription {
  std::string_view name;
  std::uint32_t table_oid = 0;   // 0 if not a table column
  std::int16_t column_attr = 0;  // attribute number in that table, else 0
  std::uint32_t type_oid = 0;
  std::int16_t type_size = 0;      // pg_type.typlen; negative for variable width
  std::int32_t type_modifier = 0;  // pg_attribute.atttypmod
  std::int16_t format = 0;         // 0 text, 1 binary
  friend bool operator==(const FieldDescription&, const FieldDescription&) = default;
};

struct PGGAT_API FieldDescriptionElement {
  using value_type = FieldDescription;
  static constexpr std::size_t min_size = 1 + 4 + 2 + 4 + 2 + 4 + 2;
  static bool read(BodyReader& r, value_type& v) {
    v.name = r.cstring();
    v.table_oid = r.u32();
    v.column_attr = r.i16();
    v.type_oid = r.u32();
    v.type_size = r.i16();
    v.type_modifier = r.i32();
    v.format = r.i16();
    return true;
  }
  static void write(MessageWriter& w, const value_type& v) {
    write_cstring(w, v.name);
    w.u32(v.table_oid).i16(v.column_attr).u32(v.type_oid).i16(v.type_size);
    w.i32(v.type_modifier).i16(v.format);
  }
};

using FieldList = WireList<FieldDescriptionElement>;

struct PGGAT_API RowDescription {
  static constexpr char type = 'T';
  FieldList fields;
  [[nodiscard]] static std::optional<RowDescription> decode(Bytes body);
  void encode(Buffer& out) const;
  static void encode(Buffer& out, std::span<const FieldDescription> fields);
};

// The templates are instantiated once, in backend.cpp, for the aliases above.
extern template struct AuthenticationRequest<AuthCode::ok>;
extern template struct AuthenticationRequest<AuthCode::kerberos_v5>;
extern template struct AuthenticationRequest<AuthCode::cleartext_password>;
extern template struct AuthenticationRequest<AuthCode::scm_credential>;
extern template struct AuthenticationRequest<AuthCode::gss>;
extern template struct AuthenticationRequest<AuthCode::sspi>;
extern template struct AuthenticationData<AuthCode::gss_continue>;
extern template struct AuthenticationData<AuthCode::sasl_continue>;
extern template struct AuthenticationData<AuthCode::sasl_final>;
extern template struct EmptyMessage<'2'>;
extern template struct EmptyMessage<'3'>;
extern template struct EmptyMessage<'c'>;
extern template struct EmptyMessage<'I'>;
extern template struct EmptyMessage<'n'>;
extern template struct EmptyMessage<'1'>;
extern template struct EmptyMessage<'s'>;
extern template struct CopyResponse<'G'>;
extern template struct CopyResponse<'H'>;
extern template struct CopyResponse<'W'>;
extern template struct DiagnosticMessage<'E'>;
extern template struct DiagnosticMessage<'N'>;

}  // namespace pggat::proto::be
