// JSON to Credentials: `password` or `auth_file`, with `failure_delay`.
#include "config/credentials_config.hpp"

namespace pggat::config {

std::shared_ptr<Credentials> parse_credentials(const ConfigNode& node) {
  const bool has_password = node.has("password");
  const bool has_file = node.has("auth_file");
  if (has_password == has_file) node.fail("needs exactly one of \"password\" and \"auth_file\"");
  std::shared_ptr<Credentials> out;
  if (has_password) {
    out = password_credentials(node.at("password").as_string());
  } else {
    const ConfigNode file = node.at("auth_file");
    try {
      out = user_credentials(read_auth_file(file.as_string()));
    } catch (const ConfigError& e) {
      file.fail(e.path() + ": " + e.problem());
    }
  }
  out->failure_delay = node.get_duration("failure_delay", out->failure_delay);
  return out;
}

}  // namespace pggat::config
