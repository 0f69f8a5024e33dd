// Thin wrappers over the OpenSSL primitives the auth mechanisms are built from.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pggat::auth {

using ByteView = std::span<const std::uint8_t>;
using Sha256Digest = std::array<std::uint8_t, 32>;
using Md5Digest = std::array<std::uint8_t, 16>;

inline ByteView bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string_view chars_of(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The primitives only fail when OpenSSL cannot run the algorithm at all (allocation failure,
// a provider without it, such as MD5 under a FIPS-only configuration).
[[nodiscard]] std::optional<Md5Digest> md5(ByteView data);
[[nodiscard]] std::optional<Sha256Digest> sha256(ByteView data);
[[nodiscard]] std::optional<Sha256Digest> hmac_sha256(ByteView key, ByteView data);
[[nodiscard]] std::optional<Sha256Digest> pbkdf2_hmac_sha256(ByteView password, ByteView salt,
                                                             int iterations);

// Fills `out` from OpenSSL's CSPRNG.
[[nodiscard]] bool random_bytes(std::span<std::uint8_t> out);

// Compares in time independent of where the contents differ; sizes are not secret.
[[nodiscard]] bool constant_time_equal(ByteView a, ByteView b);

// Lowercase hex, as PostgreSQL writes MD5 digests.
std::string to_hex(ByteView data);

}  // namespace pggat::auth
