// The top of the config: app object, servers, listeners and routes.
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "config/credentials_config.hpp"
#include "net/address.hpp"
#include "net/tls.hpp"
#include "pggat/config.hpp"
#include "pggat/registry.hpp"

namespace pggat {
namespace {

// A file named in the config must be readable now, so the error names where it was set.
void check_readable(const ConfigNode& node, const std::string& file) {
  if (file.empty()) node.fail("must not be empty");
  std::ifstream in(file);
  if (!in) node.fail("cannot read \"" + file + "\": " + std::strerror(errno));
}

ListenerTls parse_listener_tls(const ConfigNode& node) {
  ListenerTls tls;
  const ConfigNode provider = node.at("provider");
  const std::string name = provider.as_string();
  if (name == "self_signed") {
    node.check_keys({"provider", "sans", "client_ca_file", "client_cert"});
    tls.provider = ListenerTls::Provider::self_signed;
    if (auto sans = node.find("sans")) {
      tls.sans = sans->as_string_list();
      if (tls.sans.empty()) sans->fail("needs at least one name or address");
      for (const std::string& san : tls.sans)
        if (san.empty() || san.find_first_of(", \t") != std::string::npos)
          sans->fail("invalid name \"" + san + "\" (no blanks or commas)");
    }
  } else if (name == "x509_key_pair") {
    node.check_keys({"provider", "cert_file", "key_file", "client_ca_file", "client_cert"});
    tls.provider = ListenerTls::Provider::x509_key_pair;
    const ConfigNode cert = node.at("cert_file");
    const ConfigNode key = node.at("key_file");
    tls.cert_file = cert.as_string();
    tls.key_file = key.as_string();
    check_readable(cert, tls.cert_file);
    check_readable(key, tls.key_file);
  } else {
    provider.fail("unknown TLS provider \"" + name + "\" (known: self_signed, x509_key_pair)");
  }
  if (auto ca = node.find("client_ca_file")) {
    tls.client_ca_file = ca->as_string();
    check_readable(*ca, tls.client_ca_file);
    tls.client_cert = ListenerTls::ClientCert::require;
  }
  if (auto mode = node.find("client_cert")) {
    const std::string text = mode->as_string();
    if (text == "none") tls.client_cert = ListenerTls::ClientCert::none;
    else if (text == "optional") tls.client_cert = ListenerTls::ClientCert::optional;
    else if (text == "require") tls.client_cert = ListenerTls::ClientCert::require;
    else mode->fail("unknown client_cert mode \"" + text + "\" (known: none, optional, require)");
    if (tls.client_cert != ListenerTls::ClientCert::none && tls.client_ca_file.empty())
      mode->fail("client_cert \"" + text + "\" needs client_ca_file (the CA that signs client certificates)");
  }
  if (tls.provider == ListenerTls::Provider::x509_key_pair || !tls.client_ca_file.empty()) {
    // Load it all once now: a bad PEM or a key that does not match is a config error.
    if (auto context = net::TlsServerContext::create(tls); !context) node.fail(context.error());
  }
  return tls;
}

ListenerOptions parse_listener(const ConfigNode& node) {
  node.check_keys({"address", "ssl", "max_connections", "startup_timeout", "max_message_size",
                   "unix_socket_mode", "reuse_port"});
  ListenerOptions l;
  const ConfigNode address = node.at("address");
  l.address = address.as_string();
  if (auto parsed = net::parse_address(l.address); !parsed) address.fail(parsed.error());
  if (auto ssl = node.find("ssl")) {
    if (!ssl->json().is_object()) ssl->fail("expected an object like {\"provider\": \"self_signed\"}");
    if (net::parse_address(l.address)->is_unix())
      ssl->fail("TLS on a unix socket listener is not supported (PostgreSQL clients never ask for it there)");
    l.ssl = parse_listener_tls(*ssl);
  }
  l.reuse_port = node.get_bool("reuse_port", false);
  if (auto n = node.find("max_connections"))
    l.max_connections = static_cast<std::uint32_t>(n->as_int(0, 1 << 24));
  l.startup_timeout = node.get_duration("startup_timeout", l.startup_timeout);
  if (auto n = node.find("max_message_size"))
    l.max_message_size =
        static_cast<std::uint32_t>(n->as_int(1024, proto::default_max_message_length));
  if (auto n = node.find("unix_socket_mode")) {
    // Accept 511 or "0777": JSON has no octal literals.
    if (n->json().is_string()) {
      // Octal digits only: no sign, no blanks, and not empty.
      const std::string text = n->as_string();
      std::uint32_t mode = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
      if (ec != std::errc() || end != text.data() + text.size() || mode > 0777)
        n->fail("expected an octal mode like \"0770\"");
      l.unix_socket_mode = mode;
    } else {
      l.unix_socket_mode = static_cast<std::uint32_t>(n->as_int(0, 0777));
    }
  }
  return l;
}

Route parse_route(const ConfigNode& node, const Registry& registry) {
  node.check_keys({"match", "handle"});
  Route route;
  if (auto match = node.find("match")) route.match = registry.make_matcher(*match);
  route.handle = registry.make_handler(node.at("handle"));
  route.source = node.at("handle").json().dump();
  return route;
}

Server parse_server(const ConfigNode& node, const Registry& registry) {
  node.check_keys({"listen", "routes"});
  Server server;
  if (auto listen = node.find("listen"))
    for (const ConfigNode& l : listen->elements()) server.add_listener(parse_listener(l));
  if (auto routes = node.find("routes"))
    for (const ConfigNode& r : routes->elements()) server.add_route(parse_route(r, registry));
  return server;
}

// {"listen": "127.0.0.1:9930", "path": "/metrics"}
MetricsOptions parse_metrics(const ConfigNode& node) {
  node.check_keys({"listen", "path"});
  MetricsOptions out;
  const ConfigNode listen = node.at("listen");
  out.listen = listen.as_string();
  const auto address = net::parse_address(out.listen);
  if (!address) listen.fail(address.error());
  if (address->is_unix()) listen.fail("the metrics endpoint listens on TCP (\"host:port\"), not a unix socket");
  out.path = node.get_string("path", out.path);
  if (!out.path.starts_with('/')) node.at("path").fail("must start with \"/\"");
  return out;
}

// {"database": "pggat", "admin_users": [...], "stats_users": [...], "password" or "auth_file"}
AdminOptions parse_admin(const ConfigNode& node) {
  node.check_keys({"database", "admin_users", "stats_users", "password", "auth_file", "failure_delay"});
  AdminOptions out;
  out.database = node.get_string("database", out.database);
  if (out.database.empty()) node.at("database").fail("must not be empty");
  if (auto users = node.find("admin_users")) out.admin_users = users->as_string_list();
  if (auto users = node.find("stats_users")) out.stats_users = users->as_string_list();
  if (out.admin_users.empty() && out.stats_users.empty())
    node.fail("needs at least one user in \"admin_users\" or \"stats_users\"");
  out.credentials = config::parse_credentials(node);
  return out;
}

// {"level": "info", "format": "text" | "json", "connections": false}
LogOptions parse_log(const ConfigNode& node) {
  node.check_keys({"level", "format", "connections"});
  LogOptions out;
  if (auto level = node.find("level")) {
    const std::string name = level->as_string();
    const auto parsed = spdlog::level::from_str(name);
    // from_str answers "off" for what it does not know.
    if (parsed == spdlog::level::off && name != "off")
      level->fail("unknown level \"" + name + "\" (known: trace, debug, info, warn, error, off)");
    out.level = parsed;
  }
  if (auto format = node.find("format")) {
    const std::string name = format->as_string();
    if (name == "json") out.format = LogOptions::Format::json;
    else if (name != "text") format->fail("unknown format \"" + name + "\" (known: text, json)");
  }
  out.connections = node.get_bool("connections", out.connections);
  return out;
}

}  // namespace

Config load_config(const nlohmann::json& json, const Registry& registry) {
  ConfigNode root(json, "");
  if (root.has("apps")) {
    // The Go version's Caddy wrapping: {"apps": {"pggat": {...}}}.
    root.check_keys({"apps", "admin", "logging", "storage"});
    const ConfigNode apps = root.at("apps");
    apps.check_keys({"pggat"});
    root = apps.at("pggat");
  }
  root.check_keys(
      {"servers", "stat_log_period", "shutdown_timeout", "threads", "thread_fill", "metrics", "admin", "log"});
  Config config;
  config.stat_log_period = root.get_duration("stat_log_period", config.stat_log_period);
  config.shutdown_timeout = root.get_duration("shutdown_timeout", config.shutdown_timeout);
  if (auto n = root.find("threads")) config.threads = static_cast<std::size_t>(n->as_int(0, 1024));
  if (auto n = root.find("thread_fill")) config.thread_fill = static_cast<std::uint32_t>(n->as_int(0, 100));
  if (auto m = root.find("metrics")) config.metrics = parse_metrics(*m);
  if (auto a = root.find("admin")) config.admin = parse_admin(*a);
  if (auto l = root.find("log")) config.log = parse_log(*l);

  std::set<std::string> addresses;
  for (const ConfigNode& s : root.at("servers").elements()) {
    config.servers.push_back(parse_server(s, registry));
    const auto& listeners = config.servers.back().listeners();
    for (std::size_t i = 0; i < listeners.size(); ++i) {
      const auto address = net::parse_address(listeners[i].address);
      const std::string key = address->to_string();
      if (!addresses.insert(key).second)
        throw ConfigError(s.path() + ".listen[" + std::to_string(i) + "].address",
                          "\"" + key + "\" is listened on twice");
    }
  }
  if (config.metrics && addresses.contains(net::parse_address(config.metrics->listen)->to_string()) &&
      !config.metrics->listen.ends_with(":0"))
    root.at("metrics").at("listen").fail("\"" + config.metrics->listen +
                                         "\" is also a listener's address");
  return config;
}

Config load_config_file(const std::filesystem::path& file, const Registry& registry) {
  std::ifstream in(file);
  if (!in) throw ConfigError("", "cannot open config file \"" + file.string() + "\"");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's text already says where: "syntax error while parsing ... at line 3, column 5".
    throw ConfigError("", file.string() + ": invalid JSON: " + e.what());
  }
  return load_config(json, registry);
}

}  // namespace pggat
