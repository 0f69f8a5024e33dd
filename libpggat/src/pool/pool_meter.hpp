// Pool meter: the queries, transactions and bytes of a pool's clients,
// counted by the relays as replies pass.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "net/connection.hpp"
#include "pggat/pool.hpp"

namespace pggat::pool {

// A DurationHistogram that clients on several threads add to without a lock.
class AtomicHistogram {
 public:
  void observe(std::chrono::nanoseconds d) {
    const auto& bounds = DurationHistogram::bounds;
    std::size_t i = 0;
    while (i < bounds.size() && d > bounds[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(d.count(), std::memory_order_relaxed);
  }
  [[nodiscard]] DurationHistogram snapshot() const {
    DurationHistogram h;
    for (std::size_t i = 0; i < counts_.size(); ++i) h.counts[i] = counts_[i].load(std::memory_order_relaxed);
    h.sum = std::chrono::nanoseconds(sum_ns_.load(std::memory_order_relaxed));
    return h;
  }

 private:
  std::array<std::atomic<std::uint64_t>, DurationHistogram::bounds.size() + 1> counts_{};
  std::atomic<std::int64_t> sum_ns_{0};
};

// One pool's totals, shared by all its clients.
struct PoolCounters {
  std::atomic<std::uint64_t> transactions{0};
  std::atomic<std::uint64_t> queries{0};
  std::atomic<std::uint64_t> bytes_received{0};
  std::atomic<std::uint64_t> bytes_sent{0};
  AtomicHistogram transaction_time;
  AtomicHistogram query_time;

  void fill(PoolStats& s) const {
    s.transactions = transactions.load(std::memory_order_relaxed);
    s.queries = queries.load(std::memory_order_relaxed);
    s.bytes_received = bytes_received.load(std::memory_order_relaxed);
    s.bytes_sent = bytes_sent.load(std::memory_order_relaxed);
    s.transaction_time = transaction_time.snapshot();
    s.query_time = query_time.snapshot();
  }
};

// One client's part: when its current query and transaction began, and how
// much of its connection's traffic is counted already. Used from the
// client's thread only. A query runs from a client message sent while none
// ran to its ReadyForQuery; a pipelined one behind it from that
// ReadyForQuery to its own. A transaction ends at a ReadyForQuery "idle".
class ClientMeter {
 public:
  using Clock = std::chrono::steady_clock;

  // `unread`: bytes already received and buffered that this meter counts.
  ClientMeter(PoolCounters& counters, net::Connection& client, std::size_t unread = 0)
      : counters_(counters),
        client_(client),
        received_(client.in.total_received() - unread),
        sent_(client.stream.bytes_written()) {}
  ClientMeter(const ClientMeter&) = delete;
  ClientMeter& operator=(const ClientMeter&) = delete;
  ~ClientMeter() { settle_bytes(); }

  void on_client_message() {
    if (in_query_) return;
    in_query_ = true;
    query_start_ = Clock::now();
    if (!in_transaction_) {
      in_transaction_ = true;
      transaction_start_ = query_start_;
    }
  }

  // A ReadyForQuery passed to the client, with its transaction status.
  void on_ready(char status) {
    const auto now = Clock::now();
    if (query_start_ == Clock::time_point{}) query_start_ = now;
    counters_.queries.fetch_add(1, std::memory_order_relaxed);
    counters_.query_time.observe(now - query_start_);
    query_start_ = now;  // where a pipelined query behind it is timed from
    in_query_ = false;
    if (status == 'I' && in_transaction_) {
      in_transaction_ = false;
      counters_.transactions.fetch_add(1, std::memory_order_relaxed);
      counters_.transaction_time.observe(now - transaction_start_);
    }
  }

  // Adds the bytes moved since the last call; the relays call it once what
  // they had to write is written.
  void settle_bytes() {
    const std::uint64_t received = client_.in.total_received();
    const std::uint64_t sent = client_.stream.bytes_written();
    if (received != received_)
      counters_.bytes_received.fetch_add(received - received_, std::memory_order_relaxed);
    if (sent != sent_) counters_.bytes_sent.fetch_add(sent - sent_, std::memory_order_relaxed);
    received_ = received;
    sent_ = sent;
  }

 private:
  PoolCounters& counters_;
  net::Connection& client_;
  std::uint64_t received_;
  std::uint64_t sent_;
  Clock::time_point query_start_{};
  Clock::time_point transaction_start_{};
  bool in_query_ = false;
  bool in_transaction_ = false;
};

}  // namespace pggat::pool
