// SCRAM-SHA-256 salted passwords, keys and the SCRAM-SHA-256$... secret format.
#include "auth/scram_secret.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "auth/base64.hpp"
#include "auth/saslprep.hpp"

namespace pggat::auth {
namespace {

constexpr std::string_view secret_prefix = "SCRAM-SHA-256$";

std::optional<ScramKey> decode_key(std::string_view text) {
  std::optional<std::vector<std::uint8_t>> bytes = base64_decode(text);
  ScramKey key{};
  if (!bytes || bytes->size() != key.size()) return std::nullopt;
  std::copy(bytes->begin(), bytes->end(), key.begin());
  return key;
}

// Splits `text` at the first `sep`; nullopt if there is none.
std::optional<std::pair<std::string_view, std::string_view>> split_once(std::string_view text,
                                                                        char sep) {
  const std::size_t at = text.find(sep);
  if (at == std::string_view::npos) return std::nullopt;
  return std::pair{text.substr(0, at), text.substr(at + 1)};
}

}  // namespace

bool is_scram_secret(std::string_view text) { return text.starts_with(secret_prefix); }

std::optional<ScramKey> ScramKeys::stored_key() const {
  return sha256(client_key);
}

std::optional<ScramKey> scram_salted_password(std::string_view password, ByteView salt,
                                              int iterations) {
  const std::string prepared = saslprep_password(password);
  return pbkdf2_hmac_sha256(bytes_of(prepared), salt, iterations);
}

std::optional<ScramKeys> scram_keys_from_salted(const ScramKey& salted_password) {
  const std::optional<ScramKey> client_key = hmac_sha256(salted_password, bytes_of("Client Key"));
  const std::optional<ScramKey> server_key = hmac_sha256(salted_password, bytes_of("Server Key"));
  if (!client_key || !server_key) return std::nullopt;
  return ScramKeys{*client_key, *server_key};
}

std::optional<ScramKeys> scram_keys(std::string_view password, ByteView salt, int iterations) {
  const std::optional<ScramKey> salted = scram_salted_password(password, salt, iterations);
  if (!salted) return std::nullopt;
  return scram_keys_from_salted(*salted);
}

std::optional<ScramSecret> ScramSecret::parse(std::string_view text) {
  if (!text.starts_with(secret_prefix)) return std::nullopt;
  const auto salt_part = split_once(text.substr(secret_prefix.size()), '$');
  if (!salt_part) return std::nullopt;
  const auto iterations_salt = split_once(salt_part->first, ':');
  const auto keys = split_once(salt_part->second, ':');
  if (!iterations_salt || !keys) return std::nullopt;

  ScramSecret secret;
  const std::string_view digits = iterations_salt->first;
  // from_chars alone would accept a leading '-' and stop at the first non-digit.
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), secret.iterations);
  if (ec != std::errc() || end != digits.data() + digits.size() || secret.iterations < 1) {
    return std::nullopt;
  }

  std::optional<std::vector<std::uint8_t>> salt = base64_decode(iterations_salt->second);
  if (!salt || salt->empty()) return std::nullopt;
  secret.salt = std::move(*salt);

  // The base64 alphabet has no ':' or '$', so any extra separator fails decoding here.
  const std::optional<ScramKey> stored_key = decode_key(keys->first);
  const std::optional<ScramKey> server_key = decode_key(keys->second);
  if (!stored_key || !server_key) return std::nullopt;
  secret.stored_key = *stored_key;
  secret.server_key = *server_key;
  return secret;
}

std::optional<ScramSecret> ScramSecret::derive(std::string_view password, ByteView salt,
                                               int iterations) {
  if (salt.empty()) return std::nullopt;
  const std::optional<ScramKeys> keys = scram_keys(password, salt, iterations);
  if (!keys) return std::nullopt;
  const std::optional<ScramKey> stored_key = keys->stored_key();
  if (!stored_key) return std::nullopt;
  return ScramSecret{iterations, {salt.begin(), salt.end()}, *stored_key, keys->server_key};
}

std::optional<ScramSecret> ScramSecret::generate(std::string_view password) {
  std::array<std::uint8_t, scram_default_salt_length> salt{};
  if (!random_bytes(salt)) return std::nullopt;
  return derive(password, salt, scram_default_iterations);
}

std::string ScramSecret::to_string() const {
  std::string out(secret_prefix);
  out += std::to_string(iterations);
  out += ':';
  out += base64_encode(salt);
  out += '$';
  out += base64_encode(stored_key);
  out += ':';
  out += base64_encode(server_key);
  return out;
}

bool ScramSecret::verify_password(std::string_view password) const {
  const std::optional<ScramKeys> keys = scram_keys(password, salt, iterations);
  if (!keys) return false;
  const std::optional<ScramKey> computed = keys->stored_key();
  return computed && constant_time_equal(*computed, stored_key);
}

std::optional<std::string> scram_secret(std::string_view password, ByteView salt, int iterations) {
  const std::optional<ScramSecret> secret = ScramSecret::derive(password, salt, iterations);
  if (!secret) return std::nullopt;
  return secret->to_string();
}

}  // namespace pggat::auth
