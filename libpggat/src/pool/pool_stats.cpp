// The arithmetic of pool figures: histogram buckets and sums of pools.
#include <algorithm>

#include "pggat/pool.hpp"

namespace pggat {

std::uint64_t DurationHistogram::count() const {
  std::uint64_t n = 0;
  for (const std::uint64_t c : counts) n += c;
  return n;
}

void DurationHistogram::add(const DurationHistogram& other) {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  sum += other.sum;
}

void DurationHistogram::observe(std::chrono::nanoseconds d) {
  const auto at = std::lower_bound(bounds.begin(), bounds.end(), d);
  ++counts[static_cast<std::size_t>(at - bounds.begin())];
  sum += d;
}

void PoolStats::add(const PoolStats& o) {
  clients += o.clients;
  clients_served += o.clients_served;
  clients_waiting += o.clients_waiting;
  servers_idle += o.servers_idle;
  servers_active += o.servers_active;
  servers_connecting += o.servers_connecting;
  servers_resetting += o.servers_resetting;
  acquires += o.acquires;
  acquire_timeouts += o.acquire_timeouts;
  connect_failures += o.connect_failures;
  servers_discarded += o.servers_discarded;
  transactions += o.transactions;
  queries += o.queries;
  bytes_received += o.bytes_received;
  bytes_sent += o.bytes_sent;
  longest_wait = std::max(longest_wait, o.longest_wait);
  paused = paused || o.paused;
  acquire_time.add(o.acquire_time);
  transaction_time.add(o.transaction_time);
  query_time.add(o.query_time);
}

}  // namespace pggat
