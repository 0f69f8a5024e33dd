// Codec of the startup-phase packets: StartupMessage, SSL/GSS encryption requests, CancelRequest.
#include "pggat/proto/startup.hpp"

#include "pggat/proto/reader.hpp"
#include "pggat/proto/writer.hpp"

namespace pggat::proto {
namespace {

template <class ParameterRange>
void encode_startup(Buffer& out, std::uint32_t protocol_version, const ParameterRange& parameters) {
  MessageWriter w = MessageWriter::untyped(out);
  w.u32(protocol_version);
  write_terminated<StartupParameterElement>(w, parameters);
}

}  // namespace

std::optional<std::string_view> StartupMessage::find(std::string_view name) const {
  std::optional<std::string_view> found;
  for (const StartupParameter& p : parameters)
    if (p.first == name) found = p.second;
  return found;
}

std::optional<StartupMessage> StartupMessage::decode(const StartupFrame& frame) {
  StartupMessage m;
  m.protocol_version = frame.code;
  if (frame.kind != kind || m.major_version() != 3) return std::nullopt;
  BodyReader r(frame.body);
  auto parameters = StartupParameterList::read_terminated(r);
  if (!parameters || !r.done()) return std::nullopt;
  m.parameters = *parameters;
  return m;
}

void StartupMessage::encode(Buffer& out) const {
  encode_startup(out, protocol_version, parameters);
}

void StartupMessage::encode(Buffer& out, std::span<const StartupParameter> parameters,
                            std::uint32_t protocol_version) {
  encode_startup(out, protocol_version, parameters);
}

template <StartupKind Kind, std::uint32_t Code>
std::optional<EncryptionRequest<Kind, Code>> EncryptionRequest<Kind, Code>::decode(
    const StartupFrame& frame) {
  if (frame.kind != Kind || frame.code != Code || !frame.body.empty()) return std::nullopt;
  return EncryptionRequest{};
}

template <StartupKind Kind, std::uint32_t Code>
void EncryptionRequest<Kind, Code>::encode(Buffer& out) const {
  MessageWriter::untyped(out).u32(Code);
}

std::optional<CancelRequest> CancelRequest::decode(const StartupFrame& frame) {
  if (frame.kind != kind || frame.code != code) return std::nullopt;
  BodyReader r(frame.body);
  CancelRequest m;
  m.process_id = r.i32();
  m.secret_key = r.i32();
  if (!r.done()) return std::nullopt;
  return m;
}

void CancelRequest::encode(Buffer& out) const {
  MessageWriter::untyped(out).u32(code).i32(process_id).i32(secret_key);
}

template struct EncryptionRequest<StartupKind::ssl_request, ssl_request_code>;
template struct EncryptionRequest<StartupKind::gssenc_request, gssenc_request_code>;

}  // namespace pggat::proto
