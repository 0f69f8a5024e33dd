// Typed startup-phase packets (no type byte): StartupMessage, SSLRequest, GSSENCRequest,
// CancelRequest.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "pggat/export.hpp"
#include "pggat/proto/bytes.hpp"
#include "pggat/proto/frame.hpp"
#include "pggat/proto/wire_list.hpp"

// Each packet has a [[nodiscard]] static decode(const StartupFrame&) that
// checks the frame's kind and validates its whole body (nullopt when invalid),
// and encode(Buffer&) that appends the whole packet, length first.
namespace pggat::proto {

// A (name, value) pair of a StartupMessage, e.g. ("user", "alice").
using StartupParameter = std::pair<std::string_view, std::string_view>;

struct PGGAT_API StartupParameterElement {
  using value_type = StartupParameter;
  static constexpr std::size_t min_size = 2;
  static bool read(BodyReader& r, value_type& v) {
    v.first = r.cstring();
    v.second = r.cstring();
    return true;
  }
  static void write(MessageWriter& w, const value_type& v) {
    write_cstring(w, v.first);
    write_cstring(w, v.second);
  }
  static bool ends_list(const value_type& v) { return CStringElement::ends_list(v.first); }
};

using StartupParameterList = WireList<StartupParameterElement>;

struct PGGAT_API StartupMessage {
  static constexpr StartupKind kind = StartupKind::startup_message;
  std::uint32_t protocol_version = protocol_version_3_0;  // major << 16 | minor
  StartupParameterList parameters;

  [[nodiscard]] std::uint16_t major_version() const {
    return static_cast<std::uint16_t>(protocol_version >> 16);
  }
  [[nodiscard]] std::uint16_t minor_version() const {
    return static_cast<std::uint16_t>(protocol_version & 0xffff);
  }
  // The value of a parameter; the last one if a name repeats, as in PostgreSQL.
  [[nodiscard]] std::optional<std::string_view> find(std::string_view name) const;

  // Only major version 3: the body layout of other versions is not this one.
  [[nodiscard]] static std::optional<StartupMessage> decode(const StartupFrame& frame);
  void encode(Buffer& out) const;
  // Parameters with an empty name are skipped: on the wire one ends the list.
  static void encode(Buffer& out, std::span<const StartupParameter> parameters,
                     std::uint32_t protocol_version = protocol_version_3_0);
};

// SSLRequest and GSSENCRequest: a request code and nothing else.
template <StartupKind Kind, std::uint32_t Code>
struct PGGAT_API EncryptionRequest {
  static constexpr StartupKind kind = Kind;
  static constexpr std::uint32_t code = Code;
  [[nodiscard]] static std::optional<EncryptionRequest> decode(const StartupFrame& frame);
  void encode(Buffer& out) const;
};

using SSLRequest = EncryptionRequest<StartupKind::ssl_request, ssl_request_code>;
using GSSENCRequest = EncryptionRequest<StartupKind::gssenc_request, gssenc_request_code>;

struct PGGAT_API CancelRequest {
  static constexpr StartupKind kind = StartupKind::cancel_request;
  static constexpr std::uint32_t code = cancel_request_code;
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
  [[nodiscard]] static std::optional<CancelRequest> decode(const StartupFrame& frame);
  void encode(Buffer& out) const;
};

extern template struct EncryptionRequest<StartupKind::ssl_request, ssl_request_code>;
extern template struct EncryptionRequest<StartupKind::gssenc_request, gssenc_request_code>;

}  // namespace pggat::proto
