// Prometheus metric families from the App's snapshots.
#include "metrics/families.hpp"

#include <limits>
#include <map>

namespace pggat::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Families by name, each made once with its help and type, in first-use order.
class Families {
 public:
  void counter(const std::string& name, const std::string& help, const Labels& labels, double value) {
    ClientMetric m;
    m.label = labels;
    m.counter.value = value;
    family(name, help, MetricType::Counter).metric.push_back(std::move(m));
  }
  void gauge(const std::string& name, const std::string& help, const Labels& labels, double value) {
    ClientMetric m;
    m.label = labels;
    m.gauge.value = value;
    family(name, help, MetricType::Gauge).metric.push_back(std::move(m));
  }
  // `scale`: the unit's length in seconds (0.001 for a histogram in ms).
  void histogram(const std::string& name, const std::string& help, const Labels& labels,
                 const DurationHistogram& h, double scale) {
    ClientMetric m;
    m.label = labels;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < DurationHistogram::bounds.size(); ++i) {
      cumulative += h.counts[i];
      const double bound = std::chrono::duration<double>(DurationHistogram::bounds[i]).count() / scale;
      m.histogram.bucket.push_back({cumulative, bound});
    }
    cumulative += h.counts.back();
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = std::chrono::duration<double>(h.sum).count() / scale;
    family(name, help, MetricType::Histogram).metric.push_back(std::move(m));
  }

  std::vector<MetricFamily> take() { return std::move(out_); }

 private:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    const auto [it, added] = index_.emplace(name, out_.size());
    if (added) out_.push_back(MetricFamily{name, help, type, {}});
    return out_[it->second];
  }
  std::map<std::string, std::size_t> index_;
  std::vector<MetricFamily> out_;
};

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

void add_listeners(Families& f, const std::vector<ListenerStats>& listeners) {
  for (const ListenerStats& l : listeners) {
    const Labels labels{{"listen_addr", l.address}};
    f.counter("pggat_listener_incoming", "Connections accepted from the listener's socket", labels,
              static_cast<double>(l.incoming));
    f.counter("pggat_listener_accepted", "Clients let in after their startup packet", labels,
              static_cast<double>(l.accepted));
    f.counter("pggat_listener_rejected", "Clients refused (max_connections, shutting down)", labels,
              static_cast<double>(l.rejected));
    f.gauge("pggat_listener_client", "Clients connected now", labels, static_cast<double>(l.clients));
  }
}

void add_pool(Families& f, const PoolSnapshot& p) {
  const PoolStats& s = p.stats;
  const std::string kind = p.description.kind == "hybrid" ? "hybrid" : "simple";
  const Labels labels{{"pool", p.name},
                      {"user", p.user},
                      {"database", p.database},
                      {"mode", p.description.mode}};
  // pggat's names.
  f.counter("pggat_pool_" + kind + "_accepted", "Clients the pool began to serve", labels,
            static_cast<double>(s.clients_served));
  f.gauge("pggat_pool_" + kind + "_current", "Clients the pool serves now", labels,
          static_cast<double>(s.clients));
  f.histogram("pggat_operation_" + kind + "_acquire_ms", "Time to get a server (ms)", labels,
              s.acquire_time, 0.001);
  f.histogram("pggat_operation_" + kind + "_execution_ms", "Time a transaction took (ms)", labels,
              s.transaction_time, 0.001);
  // PgBouncer's exporter's figures.
  const auto waiting = static_cast<double>(s.clients_waiting);
  f.gauge("pggat_pool_clients_active", "Clients served and not waiting for a server", labels,
          static_cast<double>(s.clients) - waiting);
  f.gauge("pggat_pool_clients_waiting", "Clients waiting for a server", labels, waiting);
  f.gauge("pggat_pool_servers_active", "Servers lent to clients", labels,
          static_cast<double>(s.servers_active));
  f.gauge("pggat_pool_servers_idle", "Servers idle and ready", labels, static_cast<double>(s.servers_idle));
  f.gauge("pggat_pool_servers_resetting", "Servers being cleaned after a client", labels,
          static_cast<double>(s.servers_resetting));
  f.gauge("pggat_pool_servers_login", "Servers being dialed", labels,
          static_cast<double>(s.servers_connecting));
  f.gauge("pggat_pool_longest_wait_seconds", "How long the client waiting longest has waited", labels,
          seconds(s.longest_wait));
  f.counter("pggat_pool_transactions_total", "Transactions relayed", labels,
            static_cast<double>(s.transactions));
  f.counter("pggat_pool_queries_total", "Queries relayed (ReadyForQuery messages)", labels,
            static_cast<double>(s.queries));
  f.counter("pggat_pool_received_bytes_total", "Bytes received from clients", labels,
            static_cast<double>(s.bytes_received));
  f.counter("pggat_pool_sent_bytes_total", "Bytes sent to clients", labels,
            static_cast<double>(s.bytes_sent));
  f.counter("pggat_pool_acquires_total", "Servers handed to clients", labels,
            static_cast<double>(s.acquires));
  f.counter("pggat_pool_acquire_timeouts_total", "Clients that waited past client_acquire_timeout",
            labels, static_cast<double>(s.acquire_timeouts));
  f.counter("pggat_pool_connect_failures_total", "Failed dials", labels,
            static_cast<double>(s.connect_failures));
  f.counter("pggat_pool_servers_discarded_total", "Servers closed because broken or unclean", labels,
            static_cast<double>(s.servers_discarded));
  f.histogram("pggat_pool_wait_seconds", "Time to get a server", labels, s.acquire_time, 1.0);
  f.histogram("pggat_pool_transaction_seconds", "Time a transaction took", labels, s.transaction_time,
              1.0);
  f.histogram("pggat_pool_query_seconds", "Time a query took", labels, s.query_time, 1.0);

  double replica_hits = 0, primary_hits = 0, replays = 0;
  for (const RecipeStats& r : p.recipes) {
    const Labels rl{{"pool", p.name},
                    {"recipe", r.name},
                    {"address", r.address},
                    {"user", r.username},
                    {"database", r.database},
                    {"target", r.replica ? "replica" : "primary"}};
    f.gauge("pggat_recipe_servers_open", "Servers connected", rl, static_cast<double>(r.servers_open));
    f.gauge("pggat_recipe_servers_idle", "Servers idle", rl, static_cast<double>(r.servers_idle));
    f.counter("pggat_recipe_transactions_total", "Servers of the recipe handed to clients", rl,
              static_cast<double>(r.transactions));
    f.gauge("pggat_recipe_in_rotation", "1 when the recipe gets clients", rl, r.in_rotation ? 1 : 0);
    f.gauge("pggat_recipe_penalty", "The critics' penalty", rl, r.penalty);
    f.gauge("pggat_recipe_replication_lag_seconds", "Replay lag, as last checked", rl,
            seconds(r.replication_lag));
    (r.replica ? replica_hits : primary_hits) += static_cast<double>(r.transactions);
    replays += static_cast<double>(r.replays_to_primary);
  }
  if (kind == "hybrid") {
    for (const auto& [target, hits] : {std::pair{"primary", primary_hits}, {"replica", replica_hits}}) {
      Labels hl = labels;
      hl.push_back({"target", target});
      f.counter("pggat_pool_hybrid_hits", "Units of work begun on the target", hl, hits);
    }
    f.counter("pggat_pool_hybrid_replays", "Units moved from a replica to the primary", labels, replays);
  }
}

}  // namespace

std::vector<MetricFamily> families(const Snapshot& snapshot) {
  Families f;
  f.gauge("pggat_clients", "Clients connected now", {}, static_cast<double>(snapshot.app.clients));
  f.counter("pggat_clients_accepted_total", "Clients let in since start", {},
            static_cast<double>(snapshot.app.clients_accepted));
  f.counter("pggat_clients_rejected_total", "Clients refused since start", {},
            static_cast<double>(snapshot.app.clients_rejected));
  f.gauge("pggat_clients_parked", "Idle clients waiting with no coroutine of their own", {},
          static_cast<double>(snapshot.app.clients_parked));
  f.counter("pggat_clients_moved_total", "Clients moved to another thread between units of work", {},
            static_cast<double>(snapshot.app.clients_moved));
  add_listeners(f, snapshot.listeners);
  for (const PoolSnapshot& p : snapshot.pools) add_pool(f, p);
  return f.take();
}

}  // namespace pggat::metrics
