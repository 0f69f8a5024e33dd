// Base64: RFC 4648 section 10 vectors both ways, and strict rejection of bad input.
#include "auth/base64.hpp"

#include <catch2/catch.hpp>

using namespace pggat::auth;

namespace {
std::optional<std::string> decode_to_string(std::string_view text) {
  const auto bytes = base64_decode(text);
  if (!bytes) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}
}  // namespace

TEST_CASE("base64 matches the RFC 4648 test vectors", "[auth][base64]") {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CAPTURE(plain);
    CHECK(base64_encode(plain) == encoded);
    CHECK(decode_to_string(encoded) == std::string(plain));
  }
}

TEST_CASE("base64 round-trips every byte value", "[auth][base64]") {
  std::vector<std::uint8_t> all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
  const std::string encoded = base64_encode(all);
  CHECK(encoded.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
        std::string::npos);
  CHECK(base64_decode(encoded) == all);
}

TEST_CASE("base64 decoding rejects bad characters and bad padding", "[auth][base64]") {
  const std::string_view bad[] = {
      "Zg",         // missing padding
      "Zg=",        // short padding
      "Zm9",        // length not a multiple of 4
      "Z===",       // three padding characters
      "====",       // only padding
      "Zg==Zg==",   // padding in the middle
      "Zm=v",       // '=' inside a group
      "Zm9v YmFy",  // space
      "Zm9v\nYmFy",
      "Zm9-",  // base64url alphabet
      "Zm9_",
      "Zh==",  // non-zero bits under the padding ("Zg==" is canonical)
      "Zm9=",  // likewise ("Zm8=" is canonical)
      std::string_view("Zm9\0", 4),
      "Zm\xc3\xa9",  // non-ASCII
  };
  for (std::string_view text : bad) {
    CAPTURE(text);
    CHECK_FALSE(base64_decode(text).has_value());
  }
}
