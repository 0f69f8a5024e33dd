// OpenSSL primitives for the auth mechanisms: digests, HMAC, PBKDF2, randomness.
#include "auth/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>

namespace pggat::auth {
namespace {

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> digest(const EVP_MD* md, ByteView data) {
  std::array<std::uint8_t, N> out{};
  unsigned int length = 0;
  if (md == nullptr ||
      EVP_Digest(data.data(), data.size(), out.data(), &length, md, nullptr) != 1 || length != N) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<Md5Digest> md5(ByteView data) {
  return digest<16>(EVP_md5(), data);
}

std::optional<Sha256Digest> sha256(ByteView data) {
  return digest<32>(EVP_sha256(), data);
}

std::optional<Sha256Digest> hmac_sha256(ByteView key, ByteView data) {
  if (key.size() > INT_MAX) return std::nullopt;
  Sha256Digest out{};
  unsigned int length = 0;
  // The one-shot HMAC() is not deprecated in OpenSSL 3 (only HMAC_CTX is).
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &length) == nullptr ||
      length != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::optional<Sha256Digest> pbkdf2_hmac_sha256(ByteView password, ByteView salt, int iterations) {
  if (iterations < 1 || password.size() > INT_MAX || salt.size() > INT_MAX) return std::nullopt;
  Sha256Digest out{};
  // OpenSSL wants a char* for the password but treats it as bytes, embedded NULs included.
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data()),
                        static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return std::nullopt;
  }
  return out;
}

bool random_bytes(std::span<std::uint8_t> out) {
  if (out.size() > INT_MAX) return false;
  return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

bool constant_time_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(ByteView data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t b : data) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0x0f]);
  }
  return out;
}

}  // namespace pggat::auth
