// Prometheus metric families from the App's snapshots: pggat's own names
// (pggat_listener_*, pggat_pool_simple_*, pggat_operation_*) and per-pool
// figures in the spirit of PgBouncer's exporter.
#pragma once

#include <vector>

#include <prometheus/metric_family.h>

#include "pggat/app.hpp"

namespace pggat::metrics {

struct Snapshot {
  AppStats app;
  std::vector<ListenerStats> listeners;
  std::vector<PoolSnapshot> pools;
};

[[nodiscard]] std::vector<prometheus::MetricFamily> families(const Snapshot& snapshot);

}  // namespace pggat::metrics
