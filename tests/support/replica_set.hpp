// Streaming replicas of the test PostgreSQL, for the hybrid pool's tests.
#pragma once

#include <pqxx/pqxx>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/postgres_server.hpp"

namespace pggat::test {

// One hot standby of PostgresServer::instance(), made and driven by
// `scripts/throwaway-postgres.sh replica|halt`: a base backup with its own
// replication slot
// (so a stopped replica catches up when started again), on a port of its
// own that it keeps across stop() and start(). Same roles and passwords as
// the primary. Stopped (its slot dropped) and removed when the process exits.
class Replica : public ThrowawayCluster {
 public:
  // Base backup of primary and start; returns once it streams.
  explicit Replica(const PostgresServer& primary);
  ~Replica();

  // Its slot on the primary, also its application_name in pg_stat_replication.
  [[nodiscard]] const std::string& slot() const { return slot_; }

  // Stops it like a crash (immediate shutdown): its port refuses connections.
  void stop();
  // Starts it again on the same port; returns once it streams again.
  void start();
  [[nodiscard]] bool running() const { return running_; }

  // Until the primary's pg_stat_replication shows it streaming and
  // pg_is_in_recovery() is true on it; throws after timeout.
  void wait_until_streaming(std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // Until pg_last_wal_replay_lsn() >= lsn on it; throws after timeout.
  void wait_for_replay(const std::string& lsn, std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  [[nodiscard]] std::string replay_lsn() const;  // pg_last_wal_replay_lsn()

  // recovery_min_apply_delay on this replica (ALTER SYSTEM and a reload);
  // returns once new connections see it. A test that sets it resets it
  // (ApplyDelayGuard).
  void set_apply_delay(std::chrono::milliseconds delay) const;
  void reset_apply_delay() const;

 private:
  void wait_for_setting(const std::string& name, const std::string& value) const;

  const PostgresServer& primary_;
  std::string slot_;
  bool running_ = false;
};

// Two replicas of PostgresServer::instance(), started on the first call to
// instance() only (a test process whose tests never ask pays nothing), and
// stopped at process exit before the primary. Tests run one at a time; a
// test that stops a replica starts it again (ReplicaStopGuard).
class ReplicaSet {
 public:
  static constexpr std::size_t count = 2;

  [[nodiscard]] static ReplicaSet& instance();

  ReplicaSet(const ReplicaSet&) = delete;
  ReplicaSet& operator=(const ReplicaSet&) = delete;
  ~ReplicaSet();

  [[nodiscard]] const PostgresServer& primary() const { return primary_; }
  [[nodiscard]] Replica& operator[](std::size_t i) const { return *replicas_.at(i); }
  [[nodiscard]] std::size_t size() const { return replicas_.size(); }
  // How long making and starting them took (until all stream).
  [[nodiscard]] std::chrono::milliseconds startup_time() const { return startup_time_; }

  // pg_current_wal_insert_lsn() on the primary: with the primary's
  // synchronous_commit = off the write position can still be behind a commit
  // just made; the insert position never is.
  [[nodiscard]] std::string primary_lsn() const;
  // wait_for_replay(lsn) on every running replica.
  void wait_for_replay(const std::string& lsn, std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  explicit ReplicaSet(const PostgresServer& primary);

  const PostgresServer& primary_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::chrono::milliseconds startup_time_{0};
};

// A replica stopped for as long as it lives.
class ReplicaStopGuard {
 public:
  explicit ReplicaStopGuard(Replica& replica) : replica_(replica) { replica_.stop(); }
  ~ReplicaStopGuard();
  ReplicaStopGuard(const ReplicaStopGuard&) = delete;
  ReplicaStopGuard& operator=(const ReplicaStopGuard&) = delete;

 private:
  Replica& replica_;
};

// recovery_min_apply_delay on a replica for as long as it lives.
class ApplyDelayGuard {
 public:
  ApplyDelayGuard(const Replica& replica, std::chrono::milliseconds delay) : replica_(replica) {
    replica_.set_apply_delay(delay);
  }
  ~ApplyDelayGuard();
  ApplyDelayGuard(const ApplyDelayGuard&) = delete;
  ApplyDelayGuard& operator=(const ApplyDelayGuard&) = delete;

 private:
  const Replica& replica_;
};

}  // namespace pggat::test
