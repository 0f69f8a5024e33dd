// JSON factories of the built-in pools: basic and hybrid.
#include <stdexcept>

#include "config/builtins.hpp"
#include "pggat/basic_pool.hpp"
#include "pggat/hybrid_pool.hpp"

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

// pggat's form: [{"critic": "latency", "query_threshold": "300ms"}, ...].
Critics parse_critics(const ConfigNode& node) {
  Critics critics;
  if (node.json().is_null()) return critics;
  for (const ConfigNode& c : node.elements()) {
    const std::string kind = c.at("critic").as_string();
    if (kind == "latency") {
      c.check_keys({"critic", "query_threshold"});
      if (critics.latency) c.fail("a second latency critic");
      critics.latency = LatencyCritic{.query_threshold = c.get_duration("query_threshold", {})};
    } else if (kind == "replication") {
      c.check_keys({"critic", "query_threshold", "replication_threshold"});
      if (critics.replication) c.fail("a second replication critic");
      critics.replication =
          ReplicationCritic{.query_threshold = c.get_duration("query_threshold", {}),
                            .replication_threshold = c.get_duration("replication_threshold", {})};
    } else {
      c.at("critic").fail("unknown critic \"" + kind + "\" (known: latency, replication)");
    }
  }
  return critics;
}

const std::initializer_list<std::string_view> basic_keys = {
    "pool", "mode", "name", "pooler", "release_after_transaction", "parameter_status_sync",
    "extended_query_sync", "packet_tracing_option", "otel_tracing_option", "server_reset_query",
    "server_reset_query_timeout", "client_acquire_timeout", "server_idle_timeout",
    "server_lifetime", "server_check_delay", "idle_transaction_timeout",
    "server_reconnect_initial_time", "server_reconnect_max_time", "server_connect_retry_window",
    "tracked_parameters",
    "critics", "check_period", "max_prepared_statements"};

// The basic pool's fields; `default_mode` when neither mode nor
// release_after_transaction says.
BasicPoolOptions parse_basic_fields(const ConfigNode& node, std::string_view default_mode) {
  // "mode" picks pggat's preset; without it, a Go-style config that spells out
  // release_after_transaction gets the preset that matches it.
  std::string mode;
  if (auto m = node.find("mode")) {
    mode = m->as_string();
    if (mode != "session" && mode != "transaction")
      m->fail("unknown mode \"" + mode + "\" (known: session, transaction)");
  } else if (auto r = node.find("release_after_transaction")) {
    mode = r->as_bool() ? "transaction" : "session";
  } else {
    mode = std::string(default_mode);
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
  if (auto c = node.find("critics")) o.critics = parse_critics(*c);
  o.check_period = node.get_duration("check_period", o.check_period);
  if (o.check_period.count() <= 0) node.at("check_period").fail("must be more than 0");
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
  o.server_connect_retry_window =
      node.get_duration("server_connect_retry_window", o.server_connect_retry_window);
  if (auto t = node.find("tracked_parameters")) o.tracked_parameters = t->as_string_list();
  if (auto m = node.find("max_prepared_statements"))
    o.max_prepared_statements = static_cast<std::size_t>(m->as_int(0, 1'000'000));
  return o;
}

BasicPoolOptions parse_basic(const ConfigNode& node) {
  node.check_keys(std::span<const std::string_view>(basic_keys.begin(), basic_keys.size()));
  return parse_basic_fields(node, "session");
}

HybridPoolOptions parse_hybrid(const ConfigNode& node) {
  std::vector<std::string_view> keys(basic_keys);
  keys.insert(keys.end(), {"consistency", "max_replay_buffer", "max_replication_lag"});
  node.check_keys(keys);
  HybridPoolOptions o;
  o.base = parse_basic_fields(node, "transaction");
  if (!o.base.release_after_transaction) {
    const auto culprit = node.find("mode") ? node.at("mode") : node.at("release_after_transaction");
    culprit.fail("the hybrid pool pools transactions; session pooling is not supported");
  }
  if (auto c = node.find("consistency")) {
    const std::string v = c->as_string();
    if (v.empty() || v == "eventual") o.consistency = Consistency::eventual;
    else if (v == "read_your_writes") o.consistency = Consistency::read_your_writes;
    else c->fail("unknown consistency \"" + v + "\" (known: eventual, read_your_writes)");
  }
  if (auto m = node.find("max_replay_buffer"))
    o.max_replay_buffer = static_cast<std::size_t>(m->as_int(1, std::int64_t{1} << 30));
  o.max_replication_lag = node.get_duration("max_replication_lag", o.max_replication_lag);
  return o;
}

// A pool's factory: its fields parsed, then made; a combination the pool
// refuses (std::invalid_argument) is a config error at the pool's node.
template <class Options>
Factory<Pool> pool_factory(Options (*parse)(const ConfigNode&), std::shared_ptr<Pool> (*make)(Options)) {
  return [parse, make](const ConfigNode& node, const Registry&) -> std::shared_ptr<Pool> {
    Options options = parse(node);
    try {
      return make(std::move(options));
    } catch (const std::invalid_argument& e) {
      node.fail(e.what());
    }
  };
}

}  // namespace

void register_builtin_pools(Registry& registry) {
  registry.add_pool("basic", pool_factory(&parse_basic, &make_basic_pool));
  registry.add_pool("hybrid", pool_factory(&parse_hybrid, &make_hybrid_pool));
}

}  // namespace pggat::config
