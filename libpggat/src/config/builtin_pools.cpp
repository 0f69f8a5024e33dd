// JSON factories of the built-in pools: basic.
#include <stdexcept>

#include "config/builtins.hpp"
#include "pggat/basic_pool.hpp"

namespace pggat::config {
namespace {

PoolerKind parse_pooler(const ConfigNode& node) {
  // Go form {"pooler": "rob"}; a bare string is accepted too.
  std::string name;
  if (node.json().is_string()) {
    name = node.as_string();
  } else {
    node.check_keys({"pooler"});
    name = node.at("pooler").as_string();
  }
  if (name == "lifo") return PoolerKind::lifo;
  if (name == "rob") return PoolerKind::rob;
  node.fail("unknown pooler \"" + name + "\" (known: lifo, rob)");
}

ParameterStatusSync parse_sync(const ConfigNode& node) {
  const std::string mode = node.as_string();
  if (mode.empty() || mode == "none") return ParameterStatusSync::none;
  if (mode == "initial") return ParameterStatusSync::initial;
  if (mode == "dynamic") return ParameterStatusSync::dynamic;
  node.fail("unknown parameter_status_sync \"" + mode + "\" (known: \"\", initial, dynamic)");
}

BasicPoolOptions parse_basic(const ConfigNode& node) {
  node.check_keys({"pool", "mode", "name", "pooler", "release_after_transaction",
                   "parameter_status_sync", "extended_query_sync", "packet_tracing_option",
                   "otel_tracing_option", "server_reset_query", "server_reset_query_timeout",
                   "client_acquire_timeout", "server_idle_timeout", "server_lifetime",
                   "server_check_delay", "idle_transaction_timeout",
                   "server_reconnect_initial_time", "server_reconnect_max_time",
                   "tracked_parameters", "critics", "max_prepared_statements"});
  // "mode" picks pggat's preset; without it, a Go-style config that spells out
  // release_after_transaction gets the preset that matches it.
  std::string mode;
  if (auto m = node.find("mode")) {
    mode = m->as_string();
    if (mode != "session" && mode != "transaction")
      m->fail("unknown mode \"" + mode + "\" (known: session, transaction)");
  } else {
    mode = node.get_bool("release_after_transaction", false) ? "transaction" : "session";
  }
  BasicPoolOptions o = mode == "session" ? BasicPoolOptions::session()
                                         : BasicPoolOptions::transaction();
  o.name = node.get_string("name");
  if (auto p = node.find("pooler")) o.pooler = parse_pooler(*p);
  o.release_after_transaction = node.get_bool("release_after_transaction", o.release_after_transaction);
  if (auto s = node.find("parameter_status_sync")) o.parameter_status_sync = parse_sync(*s);
  o.extended_query_sync = node.get_bool("extended_query_sync", o.extended_query_sync);
  for (std::string_view key : {"packet_tracing_option", "otel_tracing_option"}) {
    if (auto t = node.find(key); t && !(t->json().is_boolean() && !t->as_bool()) &&
                                 !(t->json().is_string() && t->as_string().empty()))
      t->fail("tracing is not supported by this version yet");
  }
  if (auto c = node.find("critics"); c && !c->json().empty())
    c->fail("critics come with the hybrid pool and are not supported by this version yet");
  o.server_reset_query = node.get_string("server_reset_query", o.server_reset_query);
  o.server_reset_query_timeout =
      node.get_duration("server_reset_query_timeout", o.server_reset_query_timeout);
  o.client_acquire_timeout = node.get_duration("client_acquire_timeout", o.client_acquire_timeout);
  o.server_idle_timeout = node.get_duration("server_idle_timeout", o.server_idle_timeout);
  o.server_lifetime = node.get_duration("server_lifetime", o.server_lifetime);
  o.server_check_delay = node.get_duration("server_check_delay", o.server_check_delay);
  o.idle_transaction_timeout =
      node.get_duration("idle_transaction_timeout", o.idle_transaction_timeout);
  o.server_reconnect_initial_time =
      node.get_duration("server_reconnect_initial_time", o.server_reconnect_initial_time);
  o.server_reconnect_max_time =
      node.get_duration("server_reconnect_max_time", o.server_reconnect_max_time);
  if (auto t = node.find("tracked_parameters")) o.tracked_parameters = t->as_string_list();
  if (auto m = node.find("max_prepared_statements"))
    o.max_prepared_statements = static_cast<std::size_t>(m->as_int(0, 1'000'000));
  return o;
}

}  // namespace

void register_builtin_pools(Registry& registry) {
  registry.add_pool("basic", [](const ConfigNode& node, const Registry&) -> std::shared_ptr<Pool> {
    BasicPoolOptions options = parse_basic(node);
    try {
      return make_basic_pool(std::move(options));
    } catch (const std::invalid_argument& e) {
      node.fail(e.what());
    }
  });
}

}  // namespace pggat::config
