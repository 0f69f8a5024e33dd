// SCRAM message pieces shared by client and server: mechanisms, attributes, nonces.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pggat::auth {

enum class ScramMechanism { scram_sha_256, scram_sha_256_plus };

// "SCRAM-SHA-256" / "SCRAM-SHA-256-PLUS", as in AuthenticationSASL and SASLInitialResponse.
std::string_view mechanism_name(ScramMechanism mechanism);
[[nodiscard]] std::optional<ScramMechanism> parse_mechanism(std::string_view name);

// The only channel binding type PostgreSQL implements (RFC 5929).
inline constexpr std::string_view tls_server_end_point = "tls-server-end-point";

namespace scram {

// PostgreSQL's SCRAM_RAW_NONCE_LEN: 18 random bytes, 24 base64 characters.
inline constexpr std::size_t raw_nonce_length = 18;

struct Attribute {
  char name = 0;
  std::string_view value;
};

// Reads the comma-separated "a=value" attributes of a SCRAM message (RFC 5802 section 7).
// Values may be empty: PostgreSQL's client sends "n=" for the username.
class AttributeReader {
 public:
  explicit AttributeReader(std::string_view text) : text_(text) {}

  // The next attribute, or nullopt if there is none or it is malformed.
  [[nodiscard]] std::optional<Attribute> next();
  // The next attribute's value if it is named `name`, else nullopt.
  [[nodiscard]] std::optional<std::string_view> expect(char name);
  // True when everything was read; a trailing ',' is not the end.
  bool done() const { return position_ == text_.size() && !after_comma_; }
  // Offset in the text where the next attribute starts.
  std::size_t position() const { return position_; }

 private:
  std::string_view text_;
  std::size_t position_ = 0;
  bool after_comma_ = false;
};

// RFC 5802 "printable": 0x21..0x7e except ','.
bool is_valid_nonce(std::string_view nonce);

// base64 of raw_nonce_length bytes from the CSPRNG; nullopt if it fails.
[[nodiscard]] std::optional<std::string> random_nonce();

// saslname encoding: ',' as "=2C", '=' as "=3D".
std::string escape_saslname(std::string_view name);

}  // namespace scram
}  // namespace pggat::auth
