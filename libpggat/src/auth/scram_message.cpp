// Parsing and building blocks of SCRAM messages: attributes, nonces, mechanism names.
#include "auth/scram_message.hpp"

#include <array>
#include <cstdint>

#include "auth/base64.hpp"
#include "auth/crypto.hpp"

namespace pggat::auth {

namespace {
constexpr std::string_view scram_sha_256_name = "SCRAM-SHA-256";
constexpr std::string_view scram_sha_256_plus_name = "SCRAM-SHA-256-PLUS";
}  // namespace

std::string_view mechanism_name(ScramMechanism mechanism) {
  return mechanism == ScramMechanism::scram_sha_256_plus ? scram_sha_256_plus_name
                                                         : scram_sha_256_name;
}

std::optional<ScramMechanism> parse_mechanism(std::string_view name) {
  if (name == scram_sha_256_name) return ScramMechanism::scram_sha_256;
  if (name == scram_sha_256_plus_name) return ScramMechanism::scram_sha_256_plus;
  return std::nullopt;
}

namespace scram {

std::optional<Attribute> AttributeReader::next() {
  const std::string_view rest = text_.substr(position_);
  if (rest.size() < 2 || rest[1] != '=') return std::nullopt;
  const char name = rest[0];
  if (!((name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z'))) return std::nullopt;
  const std::size_t comma = rest.find(',');
  const std::size_t end = comma == std::string_view::npos ? rest.size() : comma;
  const std::string_view value = rest.substr(2, end - 2);
  after_comma_ = comma != std::string_view::npos;
  position_ += after_comma_ ? end + 1 : end;
  return Attribute{name, value};
}

std::optional<std::string_view> AttributeReader::expect(char name) {
  const std::optional<Attribute> attribute = next();
  if (!attribute || attribute->name != name) return std::nullopt;
  return attribute->value;
}

bool is_valid_nonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

std::optional<std::string> random_nonce() {
  std::array<std::uint8_t, raw_nonce_length> raw{};
  if (!random_bytes(raw)) return std::nullopt;
  return base64_encode(raw);
}

std::string escape_saslname(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace scram
}  // namespace pggat::auth
