// The built-in handlers that change or check a client before a pool sees it:
// rewrite_password/user/database/parameter, require_ssl,
// allowed_startup_parameters, error.
#include <algorithm>
#include <stdexcept>

#include "pggat/handlers.hpp"

namespace pggat {
namespace {

// A handler whose work is done without waiting.
template <class F>
class SyncHandler final : public Handler {
 public:
  explicit SyncHandler(F f) : f_(std::move(f)) {}
  asio::awaitable<Verdict> handle(Client& client) override { co_return f_(client); }

 private:
  F f_;
};

template <class F>
std::shared_ptr<Handler> sync_handler(F f) {
  return std::make_shared<SyncHandler<F>>(std::move(f));
}

void rewrite(std::string& name, RewriteMode mode, const std::string& value) {
  switch (mode) {
    case RewriteMode::set:
      name = value;
      break;
    case RewriteMode::strip_prefix:
      if (name.starts_with(value)) name.erase(0, value.size());
      break;
    case RewriteMode::strip_suffix:
      if (name.ends_with(value)) name.erase(name.size() - value.size());
      break;
  }
}

}  // namespace

std::shared_ptr<Handler> make_rewrite_password_handler(std::shared_ptr<const Credentials> credentials) {
  if (!credentials) throw std::invalid_argument("make_rewrite_password_handler: credentials are null");
  return sync_handler([credentials = std::move(credentials)](Client& client) {
    client.credentials = credentials;
    return Verdict::next();
  });
}

std::shared_ptr<Handler> make_rewrite_user_handler(RewriteMode mode, std::string value) {
  return sync_handler([mode, value = std::move(value)](Client& client) {
    rewrite(client.user, mode, value);
    return Verdict::next();
  });
}

std::shared_ptr<Handler> make_rewrite_database_handler(RewriteMode mode, std::string value) {
  return sync_handler([mode, value = std::move(value)](Client& client) {
    rewrite(client.database, mode, value);
    return Verdict::next();
  });
}

std::shared_ptr<Handler> make_rewrite_parameter_handler(std::string key, std::string value) {
  if (key.empty()) throw std::invalid_argument("make_rewrite_parameter_handler: empty key");
  return sync_handler([key = std::move(key), value = std::move(value)](Client& client) {
    client.parameters.set(key, value);
    return Verdict::next();
  });
}

std::shared_ptr<Handler> make_require_ssl_handler() {
  return sync_handler([](Client& client) {
    if (client.ssl()) return Verdict::next();
    return Verdict::fail(PgError::fatal(sqlstate::invalid_authorization,
                                        "SSL is required: connect with sslmode=require"));
  });
}

std::shared_ptr<Handler> make_allowed_startup_parameters_handler(std::vector<std::string> allowed) {
  return sync_handler([allowed = std::move(allowed)](Client& client) {
    for (const auto& entry : client.parameters) {
      const std::string& name = entry.first;
      const bool listed = std::any_of(allowed.begin(), allowed.end(),
                                      [&](const std::string& a) { return iequals(a, name); });
      if (!listed)
        return Verdict::fail(PgError::fatal(sqlstate::feature_not_supported,
                                            "unsupported startup parameter: " + name));
    }
    return Verdict::next();
  });
}

std::shared_ptr<Handler> make_error_handler(std::string message, std::string code) {
  if (code.size() != 5) throw std::invalid_argument("make_error_handler: a SQLSTATE has 5 characters");
  return sync_handler([error = PgError::fatal(code, std::move(message))](Client&) {
    return Verdict::fail(error);
  });
}

}  // namespace pggat
