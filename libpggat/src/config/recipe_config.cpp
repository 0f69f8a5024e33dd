// Parsing of pggat's recipe object.
#include "config/recipe_config.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "net/address.hpp"
#include "net/tls.hpp"

namespace pggat::config {
namespace {

// nullopt for "": the default applies.
std::optional<SslMode> parse_ssl_mode(const ConfigNode& node) {
  const std::string mode = node.as_string();
  if (mode.empty()) return std::nullopt;
  if (mode == "disable") return SslMode::disable;
  if (mode == "allow") return SslMode::allow;
  if (mode == "prefer") return SslMode::prefer;
  if (mode == "require") return SslMode::require;
  if (mode == "verify-ca") return SslMode::verify_ca;
  if (mode == "verify-full") return SslMode::verify_full;
  node.fail("unknown ssl_mode \"" + mode +
            "\" (known: disable, allow, prefer, require, verify-ca, verify-full)");
}

std::string readable_file(const ConfigNode& node) {
  std::string file = node.as_string();
  if (file.empty()) node.fail("must not be empty");
  std::ifstream in(file);
  if (!in) node.fail("cannot read \"" + file + "\": " + std::strerror(errno));
  return file;
}

// pggat's form is {"provider": "insecure_skip_verify"}; the other fields are ours.
RecipeTls parse_recipe_tls(const ConfigNode& node) {
  if (!node.json().is_object()) node.fail("expected an object like {\"root_cert_file\": \"ca.pem\"}");
  node.check_keys({"provider", "insecure_skip_verify", "root_cert_file", "cert_file", "key_file"});
  RecipeTls tls;
  if (auto provider = node.find("provider")) {
    const std::string name = provider->as_string();
    if (name != "insecure_skip_verify")
      provider->fail("unknown TLS provider \"" + name +
                     "\" (known: insecure_skip_verify; for verification leave provider out and set root_cert_file)");
    tls.insecure_skip_verify = true;
  }
  tls.insecure_skip_verify = node.get_bool("insecure_skip_verify", tls.insecure_skip_verify);
  if (auto f = node.find("root_cert_file")) {
    if (tls.insecure_skip_verify) f->fail("contradicts insecure_skip_verify");
    tls.root_cert_file = readable_file(*f);
  }
  if (auto f = node.find("cert_file")) tls.cert_file = readable_file(*f);
  if (auto f = node.find("key_file")) tls.key_file = readable_file(*f);
  if (tls.cert_file.empty() != tls.key_file.empty())
    node.fail("a client certificate needs both cert_file and key_file");
  return tls;
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
  std::optional<SslMode> mode;
  if (auto m = node.find("ssl_mode")) mode = parse_ssl_mode(*m);
  const auto ssl = node.find("ssl");
  if (ssl) r.ssl = parse_recipe_tls(*ssl);
  // What pggat does in effect: with an `ssl` object, TLS when the server
  // offers it; without one, plain.
  r.ssl_mode = mode.value_or(ssl ? SslMode::prefer : SslMode::disable);
  if (r.ssl_mode != SslMode::disable) {
    const ConfigNode& where = ssl ? *ssl : node.at("ssl_mode");
    if (r.ssl.insecure_skip_verify &&
        (r.ssl_mode == SslMode::verify_ca || r.ssl_mode == SslMode::verify_full))
      where.fail("insecure_skip_verify contradicts ssl_mode \"" + node.at("ssl_mode").as_string() + "\"");
    // Load it all once now: a bad PEM or a key that does not match is a config error.
    if (auto context = net::TlsClientContext::create(r.ssl, r.ssl_mode); !context) where.fail(context.error());
  }
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
