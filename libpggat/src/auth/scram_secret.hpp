// SCRAM-SHA-256 key derivation and PostgreSQL's stored secret format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/crypto.hpp"

namespace pggat::auth {

// What PostgreSQL uses when it hashes a password itself (scram_iterations, salt length).
inline constexpr int scram_default_iterations = 4096;
inline constexpr std::size_t scram_default_salt_length = 16;

using ScramKey = Sha256Digest;

// What a client needs to log in with SCRAM without the plaintext password. pggat gets them
// either by hashing a password or by recovering ClientKey from a client's proof
// (ScramServer::recovered_keys) and taking ServerKey from the secret.
struct ScramKeys {
  ScramKey client_key{};
  ScramKey server_key{};

  // SHA-256(ClientKey).
  [[nodiscard]] std::optional<ScramKey> stored_key() const;
  bool operator==(const ScramKeys&) const = default;
};

// PBKDF2-HMAC-SHA-256 of the SASLprep'd password (RFC 5802 "Hi").
[[nodiscard]] std::optional<ScramKey> scram_salted_password(std::string_view password,
                                                            ByteView salt, int iterations);
// ClientKey = HMAC(salted, "Client Key"), ServerKey = HMAC(salted, "Server Key").
[[nodiscard]] std::optional<ScramKeys> scram_keys_from_salted(const ScramKey& salted_password);
[[nodiscard]] std::optional<ScramKeys> scram_keys(std::string_view password, ByteView salt,
                                                  int iterations);

// A SCRAM-SHA-256 verifier as pg_authid.rolpassword stores it:
// "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>".
struct ScramSecret {
  int iterations = 0;
  std::vector<std::uint8_t> salt;
  ScramKey stored_key{};
  ScramKey server_key{};

  // Rejects anything but the exact format: a positive decimal iteration count that fits an int,
  // a non-empty salt, 32-byte keys, strict base64, no extra fields.
  [[nodiscard]] static std::optional<ScramSecret> parse(std::string_view text);
  [[nodiscard]] static std::optional<ScramSecret> derive(std::string_view password, ByteView salt,
                                                         int iterations);
  // A fresh secret with a random salt and PostgreSQL's defaults.
  [[nodiscard]] static std::optional<ScramSecret> generate(std::string_view password);

  std::string to_string() const;

  // Cleartext password authentication against a SCRAM secret (PostgreSQL's
  // scram_verify_plain_password). False also when hashing fails.
  [[nodiscard]] bool verify_password(std::string_view password) const;

  bool operator==(const ScramSecret&) const = default;
};

// Has the form of a stored secret ("SCRAM-SHA-256$..."), not of a password:
// what the SCRAM exchange is checked against, never sent as a password.
[[nodiscard]] bool is_scram_secret(std::string_view text);

// The stored form of `password`; nullopt if hashing fails or iterations < 1.
[[nodiscard]] std::optional<std::string> scram_secret(std::string_view password, ByteView salt,
                                                      int iterations);

}  // namespace pggat::auth
