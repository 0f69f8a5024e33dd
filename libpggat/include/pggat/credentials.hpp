// Credentials: what a client has to prove before it gets a server.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "pggat/export.hpp"

namespace pggat {

// The secret of each user a client may log in as. Its form picks the exchange
// (pggat's rules, as PostgreSQL stores passwords):
//   ""                                   trust: no password asked
//   "md5" + 32 hex digits                MD5 challenge (md5(password + user))
//   "SCRAM-SHA-256$<iter>:<salt>$<stored>:<server>"
//                                        SCRAM-SHA-256 against the stored keys
//   anything else                        a plaintext password, checked by SCRAM-SHA-256
// Unknown users and wrong passwords fail alike: the same exchange, the same
// delay, FATAL 28P01.
class PGGAT_API Credentials {
 public:
  virtual ~Credentials() = default;

  // The user's secret; nullopt: no such user.
  [[nodiscard]] virtual std::optional<std::string> secret(const std::string& user) const = 0;

  // Unknown users go through the exchange known users get, so that the
  // challenge itself tells nothing: MD5 when most secrets are MD5 hashes,
  // SCRAM-SHA-256 otherwise.
  [[nodiscard]] virtual bool mock_with_md5() const { return false; }

  // How long a failed login waits before its error is sent, so that guessing
  // is slow and a failure tells nothing by its timing.
  std::chrono::nanoseconds failure_delay = std::chrono::milliseconds(500);
};

// One secret for every user.
[[nodiscard]] PGGAT_API std::shared_ptr<Credentials> password_credentials(std::string secret);

// A secret per user: anyone else is unknown.
[[nodiscard]] PGGAT_API std::shared_ptr<Credentials> user_credentials(
    std::map<std::string, std::string> secrets);

// PgBouncer's auth_file (userlist.txt): one `"user" "secret"` per line, `""`
// inside quotes for a quote, lines starting with ';' or '#' and blank lines
// ignored. Throws ConfigError naming the file and line of what it cannot read.
[[nodiscard]] PGGAT_API std::map<std::string, std::string> read_auth_file(const std::string& path);

}  // namespace pggat
