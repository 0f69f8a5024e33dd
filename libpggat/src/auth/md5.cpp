// MD5 password hashing and challenge responses, PostgreSQL's way.
#include "auth/md5.hpp"

#include "auth/crypto.hpp"

namespace pggat::auth {
namespace {

constexpr std::string_view md5_prefix = "md5";
constexpr std::size_t md5_hash_length = 35;  // "md5" + 32 hex digits

std::optional<std::string> md5_hex(std::string_view a, std::string_view b) {
  std::string input;
  input.reserve(a.size() + b.size());
  input.append(a).append(b);
  const std::optional<Md5Digest> d = md5(bytes_of(input));
  if (!d) return std::nullopt;
  return to_hex(*d);
}

}  // namespace

bool is_md5_hash(std::string_view secret) {
  if (secret.size() != md5_hash_length || !secret.starts_with(md5_prefix)) return false;
  // PostgreSQL only treats lowercase hex as a hash; anything else is a plaintext password.
  for (char c : secret.substr(md5_prefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<std::string> md5_password_hash(std::string_view user, std::string_view password) {
  std::optional<std::string> hex = md5_hex(password, user);
  if (!hex) return std::nullopt;
  return std::string(md5_prefix) + *hex;
}

std::optional<std::string> md5_client_response(std::string_view user,
                                               std::string_view password_or_hash,
                                               const Md5Salt& salt) {
  std::string inner;
  if (is_md5_hash(password_or_hash)) {
    inner = password_or_hash.substr(md5_prefix.size());
  } else {
    std::optional<std::string> hex = md5_hex(password_or_hash, user);
    if (!hex) return std::nullopt;
    inner = std::move(*hex);
  }
  std::optional<std::string> outer = md5_hex(inner, chars_of(salt));
  if (!outer) return std::nullopt;
  return std::string(md5_prefix) + *outer;
}

bool md5_verify_response(std::string_view user, std::string_view stored, const Md5Salt& salt,
                         std::string_view response) {
  const std::optional<std::string> expected = md5_client_response(user, stored, salt);
  return expected && constant_time_equal(bytes_of(*expected), bytes_of(response));
}

}  // namespace pggat::auth
