// Credentials from a password, a map of users, or PgBouncer's auth_file.
#include "pggat/credentials.hpp"

#include <fstream>

#include "auth/md5.hpp"
#include "auth/scram_secret.hpp"
#include "pggat/config.hpp"

namespace pggat {
namespace {

class OneSecret final : public Credentials {
 public:
  // A plaintext password is hashed once here, not at every login.
  explicit OneSecret(std::string secret) : secret_(std::move(secret)) {
    if (secret_.empty() || auth::is_md5_hash(secret_) || auth::is_scram_secret(secret_)) return;
    if (auto hashed = auth::ScramSecret::generate(secret_)) secret_ = hashed->to_string();
  }
  std::optional<std::string> secret(const std::string&) const override { return secret_; }
  bool mock_with_md5() const override { return auth::is_md5_hash(secret_); }

 private:
  std::string secret_;
};

class PerUser final : public Credentials {
 public:
  explicit PerUser(std::map<std::string, std::string> secrets) : secrets_(std::move(secrets)) {
    std::size_t md5 = 0;
    for (const auto& [user, secret] : secrets_)
      if (auth::is_md5_hash(secret)) ++md5;
    mostly_md5_ = 2 * md5 > secrets_.size();
  }
  bool mock_with_md5() const override { return mostly_md5_; }
  std::optional<std::string> secret(const std::string& user) const override {
    const auto it = secrets_.find(user);
    if (it == secrets_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, std::string> secrets_;
  bool mostly_md5_ = false;
};

// One `"..."` field at `pos` (skipping blanks before it); `""` is a quote.
std::optional<std::string> quoted_field(const std::string& line, std::size_t& pos) {
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  if (pos >= line.size() || line[pos] != '"') return std::nullopt;
  std::string out;
  for (++pos; pos < line.size(); ++pos) {
    if (line[pos] != '"') {
      out += line[pos];
    } else if (pos + 1 < line.size() && line[pos + 1] == '"') {
      out += '"';
      ++pos;
    } else {
      ++pos;
      return out;
    }
  }
  return std::nullopt;  // no closing quote
}

}  // namespace

std::shared_ptr<Credentials> password_credentials(std::string secret) {
  return std::make_shared<OneSecret>(std::move(secret));
}

std::shared_ptr<Credentials> user_credentials(std::map<std::string, std::string> secrets) {
  return std::make_shared<PerUser>(std::move(secrets));
}

std::map<std::string, std::string> read_auth_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, "cannot read the auth file");
  std::map<std::string, std::string> secrets;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == ';' || line[first] == '#') continue;
    std::size_t pos = 0;
    auto user = quoted_field(line, pos);
    auto secret = user ? quoted_field(line, pos) : std::nullopt;
    if (!user || !secret)
      throw ConfigError(path + ":" + std::to_string(number),
                        "expected \"user\" \"password or secret\", each in double quotes");
    if (user->empty()) throw ConfigError(path + ":" + std::to_string(number), "empty user name");
    // Later fields are ignored, as PgBouncer does; a repeated user is a mistake.
    if (!secrets.emplace(std::move(*user), std::move(*secret)).second)
      throw ConfigError(path + ":" + std::to_string(number), "user listed twice");
  }
  if (in.bad()) throw ConfigError(path, "error while reading the auth file");
  return secrets;
}

}  // namespace pggat
