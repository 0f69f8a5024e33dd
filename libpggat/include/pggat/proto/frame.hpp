// Framing: split a byte stream into typed messages without copying them.
#pragma once

#include <string>

#include "pggat/export.hpp"
#include "pggat/proto/bytes.hpp"
#include "pggat/proto/message_types.hpp"

namespace pggat::proto {

enum class DecodeStatus : std::uint8_t { ok, need_more, invalid };

enum class FrameError : std::uint8_t {
  none,
  unknown_type,     // not a message type of this direction
  unexpected_type,  // a real type, but not valid in the current state
  bad_length,       // length field below 4
  too_large,        // length field above the cap for this type
};

// The five bytes in front of every typed message.
struct FrameHeader {
  char type = 0;
  std::uint32_t length = 0;  // as on the wire: body size + 4
  static constexpr std::size_t size = 5;
  [[nodiscard]] std::size_t body_size() const { return length - 4; }
  [[nodiscard]] std::size_t total_size() const { return std::size_t{length} + 1; }
};

// One whole message; body points into the caller's buffer.
struct Frame {
  char type = 0;
  Bytes body;
  [[nodiscard]] std::size_t total_size() const { return body.size() + FrameHeader::size; }
};

struct FrameRules {
  Direction direction = Direction::frontend;
  TypeSet allowed;  // types valid in the current state
  std::uint32_t max_length = default_max_message_length;
};

struct HeaderResult {
  DecodeStatus status = DecodeStatus::need_more;
  FrameHeader header;
  FrameError error = FrameError::none;
};

// Decodes the header at the front of data. Garbage is reported as soon as the
// type byte is seen, without waiting for the rest of the header.
[[nodiscard]] PGGAT_API HeaderResult decode_header(Bytes data, const FrameRules& rules);

struct FrameResult {
  DecodeStatus status = DecodeStatus::need_more;
  std::size_t consumed = 0;  // bytes of data the frame occupies when ok
  Frame frame;
  FrameError error = FrameError::none;
};

// Decodes one whole message at the front of data.
[[nodiscard]] PGGAT_API FrameResult decode_frame(Bytes data, const FrameRules& rules);

// Human-readable text for a framing error, in PostgreSQL's words where it has them.
[[nodiscard]] PGGAT_API std::string describe(FrameError error, Direction direction, const FrameHeader& header);

// ---- Startup phase: packets without a type byte ----

enum class StartupKind : std::uint8_t { startup_message, ssl_request, gssenc_request, cancel_request };

inline constexpr std::uint32_t protocol_version_3_0 = 196608;  // 3 << 16
inline constexpr std::uint32_t ssl_request_code = 80877103;
inline constexpr std::uint32_t gssenc_request_code = 80877104;
inline constexpr std::uint32_t cancel_request_code = 80877102;

struct StartupFrame {
  StartupKind kind = StartupKind::startup_message;
  std::uint32_t code = 0;  // protocol version, or the request code
  Bytes body;              // after the length and code fields
};

struct StartupResult {
  DecodeStatus status = DecodeStatus::need_more;
  std::size_t consumed = 0;
  StartupFrame frame;
  std::string_view error;  // set when invalid
};

// Decodes the first packet of a connection (or the one after an SSL/GSS refusal).
[[nodiscard]] PGGAT_API StartupResult decode_startup(Bytes data,
                                           std::uint32_t max_length = max_startup_packet_length);

}  // namespace pggat::proto
