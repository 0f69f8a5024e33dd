// The built-in handlers, for building routes in code.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pggat/credentials.hpp"
#include "pggat/export.hpp"
#include "pggat/handler.hpp"
#include "pggat/pool.hpp"

namespace pggat {

// Authenticates the client against its credentials (none set: trust) and
// hands it to the pool.
[[nodiscard]] PGGAT_API std::shared_ptr<Handler> make_pool_handler(std::shared_ptr<Pool> pool);

// Sets the credentials the client must prove (handler `rewrite_password`).
[[nodiscard]] PGGAT_API std::shared_ptr<Handler> make_rewrite_password_handler(
    std::shared_ptr<const Credentials> credentials);

// How rewrite_user and rewrite_database change a name.
enum class RewriteMode {
  set,           // replace it with `value`
  strip_prefix,  // drop `value` from its front, when it is there
  strip_suffix,  // drop `value` from its end, when it is there
};
[[nodiscard]] PGGAT_API std::shared_ptr<Handler> make_rewrite_user_handler(RewriteMode mode,
                                                                           std::string value);
[[nodiscard]] PGGAT_API std::shared_ptr<Handler> make_rewrite_database_handler(RewriteMode mode,
                                                                               std::string value);
// Sets (or adds) one startup parameter the pool will see.
[[nodiscard]] PGGAT_API std::shared_ptr<Handler> make_rewrite_parameter_handler(std::string key,
                                                                                std::string value);

// Fails clients not on TLS with FATAL 28000.
[[nodiscard]] PGGAT_API std::shared_ptr<Handler> make_require_ssl_handler();
// Fails clients that sent a startup parameter not listed (case-insensitive)
// with FATAL 0A000 naming it. user, database and options are always allowed.
[[nodiscard]] PGGAT_API std::shared_ptr<Handler> make_allowed_startup_parameters_handler(
    std::vector<std::string> allowed);
// Fails every client it sees with FATAL `code` and `message`.
[[nodiscard]] PGGAT_API std::shared_ptr<Handler> make_error_handler(std::string message,
                                                                    std::string code = "08004");

}  // namespace pggat
