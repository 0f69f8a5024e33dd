// Framing of protocol 3.0 messages: headers, whole frames, startup packets.
#include "pggat/proto/frame.hpp"

#include "pggat/proto/reader.hpp"

namespace pggat::proto {

HeaderResult decode_header(Bytes data, const FrameRules& rules) {
  HeaderResult r;
  if (data.empty()) return r;
  const char type = static_cast<char>(data[0]);
  const MessageKind& kind = message_kind(rules.direction, type);
  r.header.type = type;
  if (!kind.known()) {
    r.status = DecodeStatus::invalid;
    r.error = FrameError::unknown_type;
    return r;
  }
  if (!rules.allowed.contains(type)) {
    r.status = DecodeStatus::invalid;
    r.error = FrameError::unexpected_type;
    return r;
  }
  if (data.size() < FrameHeader::size) return r;
  BodyReader rd(data.subspan(1, 4));
  r.header.length = rd.u32();
  if (r.header.length < 4) {
    r.status = DecodeStatus::invalid;
    r.error = FrameError::bad_length;
    return r;
  }
  const std::uint32_t cap =
      kind.max_length != 0 && kind.max_length < rules.max_length ? kind.max_length
                                                                  : rules.max_length;
  if (r.header.length > cap) {
    r.status = DecodeStatus::invalid;
    r.error = FrameError::too_large;
    return r;
  }
  r.status = DecodeStatus::ok;
  return r;
}

FrameResult decode_frame(Bytes data, const FrameRules& rules) {
  FrameResult r;
  const HeaderResult h = decode_header(data, rules);
  r.error = h.error;
  r.frame.type = h.header.type;
  if (h.status != DecodeStatus::ok) {
    r.status = h.status;
    return r;
  }
  const std::size_t total = h.header.total_size();
  if (data.size() < total) return r;  // need_more
  r.status = DecodeStatus::ok;
  r.consumed = total;
  r.frame.body = data.subspan(FrameHeader::size, h.header.body_size());
  return r;
}

std::string describe(FrameError error, Direction direction, const FrameHeader& header) {
  const char* side = direction == Direction::frontend ? "frontend" : "backend";
  const auto code = std::to_string(static_cast<unsigned char>(header.type));
  switch (error) {
    case FrameError::none:
      return "no error";
    case FrameError::unknown_type:
      return std::string("invalid ") + side + " message type " + code;
    case FrameError::unexpected_type: {
      std::string name(message_kind(direction, header.type).name);
      return "unexpected " + std::string(side) + " message type " + code + " (" + name +
             ") at this point of the protocol";
    }
    case FrameError::bad_length:
      return "invalid message length " + std::to_string(header.length);
    case FrameError::too_large:
      return std::string(side) + " message type " + code + " too large: length " +
             std::to_string(header.length);
  }
  return "invalid message";
}

StartupResult decode_startup(Bytes data, std::uint32_t max_length) {
  StartupResult r;
  if (data.size() < 4) return r;
  BodyReader rd(data);
  const std::uint32_t length = rd.u32();
  // A startup packet carries at least its length and a 4-byte code.
  if (length < 8 || length > max_length) {
    r.status = DecodeStatus::invalid;
    r.error = "invalid length of startup packet";
    return r;
  }
  if (data.size() < length) return r;
  r.frame.code = rd.u32();
  r.frame.body = data.subspan(8, length - 8);
  r.consumed = length;
  r.status = DecodeStatus::ok;
  switch (r.frame.code) {
    case ssl_request_code:
      r.frame.kind = StartupKind::ssl_request;
      break;
    case gssenc_request_code:
      r.frame.kind = StartupKind::gssenc_request;
      break;
    case cancel_request_code:
      r.frame.kind = StartupKind::cancel_request;
      break;
    default:
      r.frame.kind = StartupKind::startup_message;
      break;
  }
  if (r.frame.kind != StartupKind::startup_message && !r.frame.body.empty() &&
      r.frame.kind != StartupKind::cancel_request) {
    r.status = DecodeStatus::invalid;
    r.error = "invalid length of startup packet";
  }
  if (r.frame.kind == StartupKind::cancel_request && r.frame.body.size() != 8) {
    r.status = DecodeStatus::invalid;
    r.error = "invalid length of cancel request packet";
  }
  return r;
}

}  // namespace pggat::proto
