// SASLprep of passwords: the bytes hashed are the ones PostgreSQL hashes in the cases we cover.
#include "auth/saslprep.hpp"

#include <catch2/catch.hpp>

using namespace pggat::auth;

TEST_CASE("ASCII passwords are used as they are", "[auth][saslprep]") {
  CHECK(saslprep_password("pencil") == "pencil");
  CHECK(saslprep_password(" pass word\t") == " pass word\t");
  CHECK(saslprep_password("") == "");
}

TEST_CASE("non-ASCII passwords are used as raw bytes", "[auth][saslprep]") {
  // NFC "café" is already NFKC, so PostgreSQL hashes these same bytes.
  CHECK(saslprep_password("caf\xc3\xa9") == "caf\xc3\xa9");
  // Invalid UTF-8: PostgreSQL falls back to the raw bytes too.
  CHECK(saslprep_password("\xff\xfe") == "\xff\xfe");
}
