// Base64 (RFC 4648 section 4, standard alphabet, padded) as SCRAM uses it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/crypto.hpp"

namespace pggat::auth {

std::string base64_encode(ByteView data);
inline std::string base64_encode(std::string_view data) {
  return base64_encode(bytes_of(data));
}

// Strict: the length must be a multiple of 4, only the alphabet is accepted, '=' only as one or
// two final padding characters, and the unused bits before the padding must be zero, so every
// accepted text is the one encoding of its bytes. Returns nullopt otherwise.
[[nodiscard]] std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace pggat::auth
