// The built-in matchers: user and database globs, and/or/not.
#include "pggat/matchers.hpp"

#include <stdexcept>

namespace pggat {
namespace {

class UserMatcher final : public Matcher {
 public:
  explicit UserMatcher(std::string glob) : glob_(std::move(glob)) {}
  bool matches(const Client& client) const override { return glob_match(glob_, client.user); }

 private:
  std::string glob_;
};

class DatabaseMatcher final : public Matcher {
 public:
  explicit DatabaseMatcher(std::string glob) : glob_(std::move(glob)) {}
  bool matches(const Client& client) const override { return glob_match(glob_, client.database); }

 private:
  std::string glob_;
};

class StartupParameterMatcher final : public Matcher {
 public:
  StartupParameterMatcher(std::string key, std::string glob)
      : key_(std::move(key)), glob_(std::move(glob)) {}
  bool matches(const Client& client) const override {
    const std::string* value = client.parameters.find(key_);
    return value != nullptr && glob_match(glob_, *value);
  }

 private:
  std::string key_;
  std::string glob_;
};

class SslMatcher final : public Matcher {
 public:
  explicit SslMatcher(bool ssl) : ssl_(ssl) {}
  bool matches(const Client& client) const override { return client.ssl() == ssl_; }

 private:
  bool ssl_;
};

class LocalAddressMatcher final : public Matcher {
 public:
  LocalAddressMatcher(std::string network, std::string glob)
      : network_(std::move(network)), glob_(std::move(glob)) {}
  bool matches(const Client& client) const override {
    if (network_ == "unix" && !client.is_unix_socket()) return false;
    if (network_ == "tcp" && client.is_unix_socket()) return false;
    return glob_.empty() || glob_match(glob_, client.local_address());
  }

 private:
  std::string network_;
  std::string glob_;
};

class AllOfMatcher final : public Matcher {
 public:
  explicit AllOfMatcher(std::vector<std::shared_ptr<const Matcher>> m) : matchers_(std::move(m)) {}
  bool matches(const Client& client) const override {
    for (const auto& m : matchers_)
      if (!m->matches(client)) return false;
    return true;
  }

 private:
  std::vector<std::shared_ptr<const Matcher>> matchers_;
};

class AnyOfMatcher final : public Matcher {
 public:
  explicit AnyOfMatcher(std::vector<std::shared_ptr<const Matcher>> m) : matchers_(std::move(m)) {}
  bool matches(const Client& client) const override {
    for (const auto& m : matchers_)
      if (m->matches(client)) return true;
    return false;
  }

 private:
  std::vector<std::shared_ptr<const Matcher>> matchers_;
};

class NotMatcher final : public Matcher {
 public:
  explicit NotMatcher(std::shared_ptr<const Matcher> m) : matcher_(std::move(m)) {}
  bool matches(const Client& client) const override { return !matcher_->matches(client); }

 private:
  std::shared_ptr<const Matcher> matcher_;
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  // Iterative matching with backtracking to the last star: linear in practice,
  // and never exponential on patterns like "a*a*a*b".
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::shared_ptr<const Matcher> match_user(std::string glob) {
  return std::make_shared<UserMatcher>(std::move(glob));
}
std::shared_ptr<const Matcher> match_startup_parameter(std::string key, std::string glob) {
  if (key.empty()) throw std::invalid_argument("match_startup_parameter: empty key");
  return std::make_shared<StartupParameterMatcher>(std::move(key), std::move(glob));
}
std::shared_ptr<const Matcher> match_ssl(bool ssl) { return std::make_shared<SslMatcher>(ssl); }
std::shared_ptr<const Matcher> match_local_address(std::string network, std::string address_glob) {
  if (!network.empty() && network != "tcp" && network != "unix")
    throw std::invalid_argument("match_local_address: network must be \"tcp\" or \"unix\"");
  return std::make_shared<LocalAddressMatcher>(std::move(network), std::move(address_glob));
}
std::shared_ptr<const Matcher> match_database(std::string glob) {
  return std::make_shared<DatabaseMatcher>(std::move(glob));
}
namespace {
void require_all(const std::vector<std::shared_ptr<const Matcher>>& matchers, const char* what) {
  for (const auto& m : matchers)
    if (!m) throw std::invalid_argument(std::string(what) + ": a matcher is null");
}
}  // namespace

std::shared_ptr<const Matcher> match_all_of(std::vector<std::shared_ptr<const Matcher>> matchers) {
  require_all(matchers, "match_all_of");
  return std::make_shared<AllOfMatcher>(std::move(matchers));
}
std::shared_ptr<const Matcher> match_any_of(std::vector<std::shared_ptr<const Matcher>> matchers) {
  require_all(matchers, "match_any_of");
  return std::make_shared<AnyOfMatcher>(std::move(matchers));
}
std::shared_ptr<const Matcher> match_not(std::shared_ptr<const Matcher> m) {
  if (!m) throw std::invalid_argument("match_not: the matcher is null");
  return std::make_shared<NotMatcher>(std::move(m));
}

}  // namespace pggat
