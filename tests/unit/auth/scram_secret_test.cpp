// SCRAM keys and PostgreSQL's SCRAM-SHA-256$... secret: derivation, round trip, rejection.
#include "auth/scram_secret.hpp"

#include <catch2/catch.hpp>

#include "auth/base64.hpp"

using namespace pggat::auth;

namespace {
// RFC 7677 section 3: password "pencil", this salt, 4096 iterations. Keys computed with
// Python's hashlib/hmac.
constexpr std::string_view rfc_salt = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view rfc_secret =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

std::vector<std::uint8_t> decoded(std::string_view text) {
  auto bytes = base64_decode(text);
  REQUIRE(bytes);
  return *bytes;
}
}  // namespace

TEST_CASE("salted password and keys of the RFC 7677 example", "[auth][scram]") {
  const auto salt = decoded(rfc_salt);
  const auto salted = scram_salted_password("pencil", salt, 4096);
  REQUIRE(salted);
  CHECK(to_hex(*salted) == "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d");
  const auto keys = scram_keys("pencil", salt, 4096);
  REQUIRE(keys);
  CHECK(base64_encode(keys->client_key) == "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=");
  CHECK(base64_encode(keys->server_key) == "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
  const auto stored = keys->stored_key();
  REQUIRE(stored);
  CHECK(base64_encode(*stored) == "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=");
}

TEST_CASE("scram_secret writes PostgreSQL's format", "[auth][scram]") {
  CHECK(scram_secret("pencil", decoded(rfc_salt), 4096) == std::string(rfc_secret));
  CHECK_FALSE(scram_secret("pencil", decoded(rfc_salt), 0));
  CHECK_FALSE(scram_secret("pencil", {}, 4096));
}

TEST_CASE("ScramSecret parses and writes back the same text", "[auth][scram]") {
  const auto secret = ScramSecret::parse(rfc_secret);
  REQUIRE(secret);
  CHECK(secret->iterations == 4096);
  CHECK(secret->salt == decoded(rfc_salt));
  CHECK(secret->to_string() == rfc_secret);
  CHECK(ScramSecret::derive("pencil", decoded(rfc_salt), 4096) == secret);
}

TEST_CASE("ScramSecret::generate uses a fresh salt and PostgreSQL's defaults", "[auth][scram]") {
  const auto a = ScramSecret::generate("pencil");
  const auto b = ScramSecret::generate("pencil");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->iterations == scram_default_iterations);
  CHECK(a->salt.size() == scram_default_salt_length);
  CHECK(a->salt != b->salt);
  CHECK(a->stored_key != b->stored_key);
  CHECK(ScramSecret::parse(a->to_string()) == a);
}

TEST_CASE("ScramSecret verifies plaintext passwords", "[auth][scram]") {
  const auto secret = ScramSecret::parse(rfc_secret);
  REQUIRE(secret);
  CHECK(secret->verify_password("pencil"));
  CHECK_FALSE(secret->verify_password("pencil "));
  CHECK_FALSE(secret->verify_password("Pencil"));
  CHECK_FALSE(secret->verify_password(""));
}

TEST_CASE("secrets written by PostgreSQL 15 parse and verify", "[auth][scram]") {
  // From pg_authid after CREATE ROLE ... PASSWORD 'pencil' / 'café' (UTF-8, NFC).
  const auto pencil = ScramSecret::parse(
      "SCRAM-SHA-256$4096:o+x5JqKQNAz9beHasW6KJA==$G2UnpTZfqBXj0a60KfQtClXNzJWmLNEEEML4eF5P9wg=:"
      "TM3l80mXgf9k+d0qr0vV0ky72arAFGKeJE6mtm85lT4=");
  REQUIRE(pencil);
  CHECK(pencil->verify_password("pencil"));
  CHECK_FALSE(pencil->verify_password("pencil2"));
  const auto cafe = ScramSecret::parse(
      "SCRAM-SHA-256$4096:HccFfq9Ewc8gdF2d90RgKQ==$Hr7HS7SipwsEi0gNJGAlhxQKDqEmjGSAcmzDiyPRmFc=:"
      "Mk5AXgZjxJt4QgD4HPE2zimnGhaPABSyuTnPi+BND9o=");
  REQUIRE(cafe);
  CHECK(cafe->verify_password("caf\xc3\xa9"));
  CHECK_FALSE(cafe->verify_password("cafe"));
}

TEST_CASE("ScramSecret::parse rejects malformed secrets", "[auth][scram]") {
  const std::string key = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=";
  const std::string salt(rfc_salt);
  const std::string bad[] = {
      "",
      "md53175bce1d3201d16594cebf9d7eb3f9d",
      "SCRAM-SHA-256$",
      "SCRAM-SHA-1$4096:" + salt + "$" + key + ":" + key,
      "scram-sha-256$4096:" + salt + "$" + key + ":" + key,
      "SCRAM-SHA-256$4096:" + salt + "$" + key,                         // no ServerKey
      "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + ":",       // extra field
      "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + "$",       // extra section
      "SCRAM-SHA-256$" + salt + "$" + key + ":" + key,                  // no iterations
      "SCRAM-SHA-256$:" + salt + "$" + key + ":" + key,                 // empty iterations
      "SCRAM-SHA-256$0:" + salt + "$" + key + ":" + key,                // zero iterations
      "SCRAM-SHA-256$-1:" + salt + "$" + key + ":" + key,               // negative
      "SCRAM-SHA-256$+4096:" + salt + "$" + key + ":" + key,            // sign
      "SCRAM-SHA-256$4096x:" + salt + "$" + key + ":" + key,            // trailing junk
      "SCRAM-SHA-256$99999999999:" + salt + "$" + key + ":" + key,      // overflows int
      "SCRAM-SHA-256$4096:$" + key + ":" + key,                         // empty salt
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$" + key + ":" + key,  // bad base64 salt
      "SCRAM-SHA-256$4096:" + salt + "$" + key.substr(4) + ":" + key,   // short StoredKey
      "SCRAM-SHA-256$4096:" + salt + "$" + key + ":AAAA" + key,         // long ServerKey
      "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + " ",       // trailing space
  };
  for (const std::string& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(ScramSecret::parse(text).has_value());
  }
}
