// JSON to Credentials (handler rewrite_password, the admin console).
#pragma once

#include <memory>

#include "pggat/config.hpp"
#include "pggat/credentials.hpp"

namespace pggat::config {

// One `password` (plaintext, md5 hash or SCRAM secret) for everyone, or an
// `auth_file` of users; `failure_delay` optional. Other keys are the caller's
// to check.
[[nodiscard]] std::shared_ptr<Credentials> parse_credentials(const ConfigNode& node);

}  // namespace pggat::config
