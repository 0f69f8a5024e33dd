// MD5 password authentication as PostgreSQL does it (AuthenticationMD5Password).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pggat::auth {

using Md5Salt = std::array<std::uint8_t, 4>;

// True for what pg_authid stores for an MD5 password: "md5" and 32 lowercase hex digits.
bool is_md5_hash(std::string_view secret);

// "md5" + hex(md5(password + user)), the stored form of `password` for `user`.
[[nodiscard]] std::optional<std::string> md5_password_hash(std::string_view user,
                                                           std::string_view password);

// The PasswordMessage a client sends: "md5" + hex(md5(hex(md5(password + user)) + salt)).
// `password_or_hash` may already be a stored hash (is_md5_hash), which is then used as is:
// that is how pggat answers a server while knowing only the hash (pass-the-hash).
[[nodiscard]] std::optional<std::string> md5_client_response(std::string_view user,
                                                             std::string_view password_or_hash,
                                                             const Md5Salt& salt);

// Server side: does `response` answer `salt` for `user` whose secret is `stored` (a stored hash
// or a plaintext password)? Compared in constant time; false also when MD5 is unavailable.
[[nodiscard]] bool md5_verify_response(std::string_view user, std::string_view stored,
                                       const Md5Salt& salt, std::string_view response);

}  // namespace pggat::auth
