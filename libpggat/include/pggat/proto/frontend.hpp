// Typed messages a client sends (protocol 3.0): decoded as views into a frame body, encoded whole.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "pggat/export.hpp"
#include "pggat/proto/bytes.hpp"
#include "pggat/proto/wire_list.hpp"

// Every message has `static constexpr char type`, a [[nodiscard]] static
// decode(Bytes body) that validates the whole body (nullopt when invalid) and
// returns views into it, and encode(Buffer&) that appends the whole message.
// Messages with lists also have a static encode taking plain C++ values.
namespace pggat::proto::fe {

using FormatList = WireList<Int16Element>;         // format codes: 0 text, 1 binary
using OidList = WireList<OidElement>;              // type OIDs
using ValueList = WireList<NullableBytesElement>;  // values, nullopt for NULL

// Statement or portal, the target of Close and Describe.
enum class Target : char { statement = 'S', portal = 'P' };

struct PGGAT_API Bind {
  static constexpr char type = 'B';
  std::string_view portal;
  std::string_view statement;
  FormatList param_formats;
  ValueList params;
  FormatList result_formats;
  [[nodiscard]] static std::optional<Bind> decode(Bytes body);
  void encode(Buffer& out) const;
  static void encode(Buffer& out, std::string_view portal, std::string_view statement,
                     std::span<const std::int16_t> param_formats,
                     std::span<const std::optional<Bytes>> params,
                     std::span<const std::int16_t> result_formats);
};

struct PGGAT_API Close {
  static constexpr char type = 'C';
  Target target = Target::statement;
  std::string_view name;
  [[nodiscard]] static std::optional<Close> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API CopyData {
  static constexpr char type = 'd';
  Bytes data;
  [[nodiscard]] static std::optional<CopyData> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API CopyDone {
  static constexpr char type = 'c';
  [[nodiscard]] static std::optional<CopyDone> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API CopyFail {
  static constexpr char type = 'f';
  std::string_view message;
  [[nodiscard]] static std::optional<CopyFail> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API Describe {
  static constexpr char type = 'D';
  Target target = Target::statement;
  std::string_view name;
  [[nodiscard]] static std::optional<Describe> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API Execute {
  static constexpr char type = 'E';
  std::string_view portal;
  std::int32_t max_rows = 0;  // 0 (or negative, to PostgreSQL): no limit
  [[nodiscard]] static std::optional<Execute> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API Flush {
  static constexpr char type = 'H';
  [[nodiscard]] static std::optional<Flush> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API FunctionCall {
  static constexpr char type = 'F';
  std::uint32_t function_oid = 0;
  FormatList arg_formats;
  ValueList args;
  std::int16_t result_format = 0;
  [[nodiscard]] static std::optional<FunctionCall> decode(Bytes body);
  void encode(Buffer& out) const;
  static void encode(Buffer& out, std::uint32_t function_oid,
                     std::span<const std::int16_t> arg_formats,
                     std::span<const std::optional<Bytes>> args, std::int16_t result_format);
};

// The four 'p' messages share a type byte: which one a body holds depends on
// the authentication exchange in progress, so the caller picks the decoder.
struct PGGAT_API GSSResponse {
  static constexpr char type = 'p';
  Bytes data;
  [[nodiscard]] static std::optional<GSSResponse> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API Parse {
  static constexpr char type = 'P';
  std::string_view name;
  std::string_view query;
  OidList param_types;  // 0: let the server infer the type
  [[nodiscard]] static std::optional<Parse> decode(Bytes body);
  void encode(Buffer& out) const;
  static void encode(Buffer& out, std::string_view name, std::string_view query,
                     std::span<const std::uint32_t> param_types);
};

struct PGGAT_API PasswordMessage {
  static constexpr char type = 'p';
  std::string_view password;  // cleartext, or "md5" + hex digest
  [[nodiscard]] static std::optional<PasswordMessage> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API Query {
  static constexpr char type = 'Q';
  std::string_view sql;
  [[nodiscard]] static std::optional<Query> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API SASLInitialResponse {
  static constexpr char type = 'p';
  std::string_view mechanism;
  std::optional<Bytes> initial_response;  // nullopt: sent as length -1
  [[nodiscard]] static std::optional<SASLInitialResponse> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API SASLResponse {
  static constexpr char type = 'p';
  Bytes data;
  [[nodiscard]] static std::optional<SASLResponse> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API Sync {
  static constexpr char type = 'S';
  [[nodiscard]] static std::optional<Sync> decode(Bytes body);
  void encode(Buffer& out) const;
};

struct PGGAT_API Terminate {
  static constexpr char type = 'X';
  [[nodiscard]] static std::optional<Terminate> decode(Bytes body);
  void encode(Buffer& out) const;
};

}  // namespace pggat::proto::fe
