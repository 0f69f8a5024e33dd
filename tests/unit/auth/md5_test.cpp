// MD5 password auth: stored hashes and challenge responses against values computed
// independently (md5sum and Python's hashlib, following PostgreSQL's algorithm).
#include "auth/md5.hpp"

#include <catch2/catch.hpp>

using namespace pggat::auth;

TEST_CASE("md5_password_hash is what pg_authid stores", "[auth][md5]") {
  // printf 'postgrespostgres' | md5sum
  CHECK(md5_password_hash("postgres", "postgres") == "md53175bce1d3201d16594cebf9d7eb3f9d");
  // printf 'penciluser' | md5sum: the password comes first
  CHECK(md5_password_hash("user", "pencil") == "md520c46e3762c864548e296b33c3406aa9");
}

TEST_CASE("md5_client_response answers the salt", "[auth][md5]") {
  CHECK(md5_client_response("postgres", "postgres", {1, 2, 3, 4}) ==
        "md568be9ed08db75f318087ab337aaea044");
  CHECK(md5_client_response("user", "pencil", {0xde, 0xad, 0xbe, 0xef}) ==
        "md50f5b636d891e9860623ac8ca91fc9dfc");
  CHECK(md5_client_response("u", "", {0, 0, 0, 0}) == "md53a5c8bde563d34721d196067d5ae197b");
}

TEST_CASE("md5_client_response passes a stored hash through", "[auth][md5]") {
  const Md5Salt salt{1, 2, 3, 4};
  CHECK(md5_client_response("postgres", "md53175bce1d3201d16594cebf9d7eb3f9d", salt) ==
        "md568be9ed08db75f318087ab337aaea044");
  // Uppercase hex or a wrong length is not a hash, so it is hashed as a password.
  const auto upper = md5_client_response("postgres", "md53175BCE1D3201D16594CEBF9D7EB3F9D", salt);
  REQUIRE(upper);
  CHECK(*upper != "md568be9ed08db75f318087ab337aaea044");
}

TEST_CASE("is_md5_hash recognises only md5 + 32 lowercase hex digits", "[auth][md5]") {
  CHECK(is_md5_hash("md53175bce1d3201d16594cebf9d7eb3f9d"));
  CHECK_FALSE(is_md5_hash("md53175bce1d3201d16594cebf9d7eb3f9"));
  CHECK_FALSE(is_md5_hash("md53175bce1d3201d16594cebf9d7eb3f9d0"));
  CHECK_FALSE(is_md5_hash("md53175bce1d3201d16594cebf9d7eb3f9g"));
  CHECK_FALSE(is_md5_hash("MD53175bce1d3201d16594cebf9d7eb3f9d"));
  CHECK_FALSE(is_md5_hash("postgres"));
}

TEST_CASE("md5_verify_response accepts the right answer only", "[auth][md5]") {
  const Md5Salt salt{1, 2, 3, 4};
  const std::string_view good = "md568be9ed08db75f318087ab337aaea044";
  CHECK(md5_verify_response("postgres", "md53175bce1d3201d16594cebf9d7eb3f9d", salt, good));
  CHECK(md5_verify_response("postgres", "postgres", salt, good));
  CHECK_FALSE(md5_verify_response("postgres", "postgres", {1, 2, 3, 5}, good));
  CHECK_FALSE(md5_verify_response("postgres", "wrong", salt, good));
  CHECK_FALSE(md5_verify_response("other", "postgres", salt, good));
  CHECK_FALSE(
      md5_verify_response("postgres", "postgres", salt, "md568be9ed08db75f318087ab337aaea04"));
}
