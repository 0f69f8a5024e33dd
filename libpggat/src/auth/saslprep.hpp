// The bytes SCRAM hashes for a password: PostgreSQL's SASLprep step (RFC 4013).
#pragma once

#include <string>
#include <string_view>

namespace pggat::auth {

// PostgreSQL (pg_saslprep) passes ASCII passwords through unchanged, and falls back to the raw
// bytes when the password is not valid UTF-8 or contains characters SASLprep prohibits. Only a
// valid, non-ASCII UTF-8 password is mapped and NFKC-normalised by PostgreSQL.
//
// We do not carry the Unicode tables that needs: every password is used as raw bytes. That is
// exactly PostgreSQL's result for ASCII and for invalid or prohibited input, and also for the
// common non-ASCII case of text already in NFKC form (e.g. "é" as U+00E9, as keyboards type
// it) with no character SASLprep maps (non-ASCII spaces such as U+00A0 become ' ', soft hyphen
// U+00AD and zero-width joiners vanish). A password outside those cases hashes differently
// from PostgreSQL's and fails to authenticate; it never authenticates a wrong password.
std::string saslprep_password(std::string_view password);

}  // namespace pggat::auth
