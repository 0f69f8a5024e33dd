// OpenSSL wrappers: known digests, HMAC and PBKDF2 outputs, randomness, comparison.
#include "auth/crypto.hpp"

#include <catch2/catch.hpp>

using namespace pggat::auth;

TEST_CASE("digests and HMAC match known values", "[auth][crypto]") {
  const auto md = md5(bytes_of("abc"));
  REQUIRE(md);
  CHECK(to_hex(*md) == "900150983cd24fb0d6963f7d28e17f72");
  const auto sha = sha256(bytes_of("abc"));
  REQUIRE(sha);
  CHECK(to_hex(*sha) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const auto mac =
      hmac_sha256(bytes_of("key"), bytes_of("The quick brown fox jumps over the lazy dog"));
  REQUIRE(mac);
  CHECK(to_hex(*mac) == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST_CASE("PBKDF2-HMAC-SHA-256 matches known values", "[auth][crypto]") {
  const auto one = pbkdf2_hmac_sha256(bytes_of("password"), bytes_of("salt"), 1);
  REQUIRE(one);
  CHECK(to_hex(*one) == "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
  const auto many = pbkdf2_hmac_sha256(bytes_of("password"), bytes_of("salt"), 4096);
  REQUIRE(many);
  CHECK(to_hex(*many) == "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
  CHECK_FALSE(pbkdf2_hmac_sha256(bytes_of("password"), bytes_of("salt"), 0));
}

TEST_CASE("random bytes differ between draws", "[auth][crypto]") {
  std::array<std::uint8_t, 32> a{};
  std::array<std::uint8_t, 32> b{};
  REQUIRE(random_bytes(a));
  REQUIRE(random_bytes(b));
  CHECK(a != b);
}

TEST_CASE("constant_time_equal compares contents and sizes", "[auth][crypto]") {
  CHECK(constant_time_equal(bytes_of("abc"), bytes_of("abc")));
  CHECK_FALSE(constant_time_equal(bytes_of("abc"), bytes_of("abd")));
  CHECK_FALSE(constant_time_equal(bytes_of("abc"), bytes_of("ab")));
  CHECK(constant_time_equal(bytes_of(""), bytes_of("")));
}
