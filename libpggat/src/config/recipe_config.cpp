// Parsing of pggat's recipe object.
#include "config/recipe_config.hpp"

#include "net/address.hpp"

namespace pggat::config {
namespace {

SslMode parse_ssl_mode(const ConfigNode& node) {
  const std::string mode = node.as_string();
  if (mode.empty() || mode == "disable") return SslMode::disable;
  if (mode == "allow") return SslMode::allow;
  if (mode == "prefer" || mode == "require" || mode == "verify-ca" || mode == "verify-full")
    node.fail("ssl_mode \"" + mode +
              "\" needs TLS to servers, which this version does not support yet; use "
              "\"disable\" or \"allow\"");
  node.fail("unknown ssl_mode \"" + mode +
            "\" (known: disable, allow, prefer, require, verify-ca, verify-full)");
}

}  // namespace

Recipe parse_recipe(const ConfigNode& node) {
  node.check_keys({"address", "ssl_mode", "ssl", "username", "password", "database", "parameters",
                   "priority", "min_connections", "max_connections", "connect_timeout"});
  Recipe r;
  const ConfigNode address = node.at("address");
  r.address = address.as_string();
  if (auto parsed = net::parse_address(r.address); !parsed) address.fail(parsed.error());
  else if (!parsed->is_unix() && parsed->host.empty())
    address.fail("a server address needs a host, like 127.0.0.1:5432");
  if (auto mode = node.find("ssl_mode")) r.ssl_mode = parse_ssl_mode(*mode);
  if (auto ssl = node.find("ssl"))
    ssl->fail("TLS to servers is not supported by this version yet; remove \"ssl\"");
  r.username = node.at("username").as_string();
  if (r.username.empty()) node.at("username").fail("must not be empty");
  r.password = node.get_string("password");
  r.database = node.get_string("database", r.username);
  if (auto params = node.find("parameters")) {
    if (!params->json().is_object()) params->fail("expected an object of name: value strings");
    for (const auto& [name, value] : params->json().items()) {
      if (!value.is_string())
        ConfigNode(value, params->path() + "." + name).fail("expected a string");
      if (name == "user" || name == "database")
        ConfigNode(value, params->path() + "." + name)
            .fail("set it with \"username\"/\"database\" instead");
      r.parameters.set(name, value.get<std::string>());
    }
  }
  if (auto n = node.find("priority")) r.priority = static_cast<int>(n->as_int(-1000000, 1000000));
  if (auto n = node.find("min_connections"))
    r.min_connections = static_cast<std::uint32_t>(n->as_int(0, 100000));
  if (auto n = node.find("max_connections"))
    r.max_connections = static_cast<std::uint32_t>(n->as_int(0, 100000));
  if (r.max_connections != 0 && r.min_connections > r.max_connections)
    node.at("min_connections")
        .fail("min_connections (" + std::to_string(r.min_connections) +
              ") is above max_connections (" + std::to_string(r.max_connections) + ")");
  r.connect_timeout = node.get_duration("connect_timeout", r.connect_timeout);
  return r;
}

}  // namespace pggat::config
