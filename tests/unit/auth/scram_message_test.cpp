// SCRAM message pieces: attribute reading, nonces, saslname escaping, mechanism names.
#include "auth/scram_message.hpp"

#include <catch2/catch.hpp>

using namespace pggat::auth;
using namespace pggat::auth::scram;

TEST_CASE("AttributeReader reads attributes in order", "[auth][scram]") {
  AttributeReader reader("r=abc,s=,i=4096");
  CHECK(reader.expect('r') == std::string_view("abc"));
  CHECK(reader.position() == 6);
  CHECK(reader.expect('s') == std::string_view(""));
  CHECK_FALSE(reader.done());
  const auto last = reader.next();
  REQUIRE(last);
  CHECK(last->name == 'i');
  CHECK(last->value == "4096");
  CHECK(reader.done());
  CHECK_FALSE(reader.next());
}

TEST_CASE("AttributeReader rejects malformed attributes", "[auth][scram]") {
  CHECK_FALSE(AttributeReader("").next());
  CHECK_FALSE(AttributeReader("r").next());
  CHECK_FALSE(AttributeReader("rr=x").next());
  CHECK_FALSE(AttributeReader("1=x").next());
  CHECK_FALSE(AttributeReader("=x").next());
  CHECK_FALSE(AttributeReader("s=x").expect('r'));

  AttributeReader trailing("r=x,");
  CHECK(trailing.expect('r'));
  CHECK_FALSE(trailing.done());  // a trailing comma promises another attribute
  CHECK_FALSE(trailing.next());
}

TEST_CASE("nonces are printable ASCII without commas", "[auth][scram]") {
  CHECK(is_valid_nonce("rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"));
  CHECK_FALSE(is_valid_nonce(""));
  CHECK_FALSE(is_valid_nonce("a,b"));
  CHECK_FALSE(is_valid_nonce("a b"));
  CHECK_FALSE(is_valid_nonce("a\x7f"));
  CHECK_FALSE(is_valid_nonce("caf\xc3\xa9"));
}

TEST_CASE("random nonces are 24 valid characters and differ", "[auth][scram]") {
  const auto a = random_nonce();
  const auto b = random_nonce();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->size() == 24);
  CHECK(is_valid_nonce(*a));
  CHECK(*a != *b);
}

TEST_CASE("saslnames escape ',' and '='", "[auth][scram]") {
  CHECK(escape_saslname("user") == "user");
  CHECK(escape_saslname("a,b=c") == "a=2Cb=3Dc");
  CHECK(escape_saslname("") == "");
}

TEST_CASE("mechanism names round-trip", "[auth][scram]") {
  CHECK(mechanism_name(ScramMechanism::scram_sha_256) == "SCRAM-SHA-256");
  CHECK(mechanism_name(ScramMechanism::scram_sha_256_plus) == "SCRAM-SHA-256-PLUS");
  CHECK(parse_mechanism("SCRAM-SHA-256") == ScramMechanism::scram_sha_256);
  CHECK(parse_mechanism("SCRAM-SHA-256-PLUS") == ScramMechanism::scram_sha_256_plus);
  CHECK_FALSE(parse_mechanism("SCRAM-SHA-1"));
  CHECK_FALSE(parse_mechanism("scram-sha-256"));
}
