// Streaming replicas for tests: made through scripts/throwaway-postgres.sh, stopped at exit.
#include "support/replica_set.hpp"

#include <cstdio>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace pggat::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto poll_interval = std::chrono::milliseconds(10);

}  // namespace

Replica::Replica(const PostgresServer& primary)
    : ThrowawayCluster(primary.script()), primary_(primary) {
  const std::string output = throwaway::run(script(), {"replica", primary_.dir(), dir()});
  started(output);
  slot_ = throwaway::printed(output, "SLOT");
  running_ = true;
  wait_until_streaming();
}

Replica::~Replica() = default;

void Replica::stop() {
  (void)throwaway::run(script(), {"halt", dir()});
  running_ = false;
}

void Replica::start() {
  const std::string output = throwaway::run(script(), {"replica", primary_.dir(), dir()});
  if (throwaway::printed_port(output) != port()) {
    throw std::runtime_error("replica " + slot_ + " came back on another port: " + output);
  }
  running_ = true;
  wait_until_streaming();
}

void Replica::wait_until_streaming(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  std::string last;
  for (;;) {
    try {
      const auto streaming = primary_.execute(
          "SELECT count(*) FROM pg_stat_replication WHERE application_name = '" + slot_ +
          "' AND state = 'streaming'")[0][0].as<int>();
      const bool recovering = execute("SELECT pg_is_in_recovery()")[0][0].as<bool>();
      if (streaming == 1 && recovering) return;
      last = "streaming connections: " + std::to_string(streaming) +
             ", pg_is_in_recovery: " + (recovering ? "true" : "false");
    } catch (const std::exception& e) {
      last = e.what();  // e.g. still starting up
    }
    if (Clock::now() > deadline) {
      throw std::runtime_error("replica " + slot_ + " does not stream (" + last + "); see " +
                               log_file());
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

std::string Replica::replay_lsn() const {
  return execute("SELECT pg_last_wal_replay_lsn()::text")[0][0].as<std::string>("");
}

void Replica::wait_for_replay(const std::string& lsn, std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  // One connection for the whole wait: the poll is cheap then.
  pqxx::connection connection{conninfo(superuser_role.user, superuser_role.password, "postgres")};
  for (;;) {
    pqxx::nontransaction work{connection};
    const auto row = work.exec_params1(
        "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false),"
        " coalesce(pg_last_wal_replay_lsn()::text, 'none')",
        lsn);
    work.commit();
    if (row[0].as<bool>()) return;
    if (Clock::now() > deadline) {
      throw std::runtime_error("replica " + slot_ + " replayed only up to " +
                               row[1].as<std::string>() + ", not " + lsn + "; see " + log_file());
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

void Replica::wait_for_setting(const std::string& name, const std::string& value) const {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    const auto seen = execute("SELECT setting FROM pg_settings WHERE name = '" + name + "'")[0][0]
                          .as<std::string>();
    if (seen == value) return;
    if (Clock::now() > deadline) {
      throw std::runtime_error(name + " is still \"" + seen + "\" after a reload; see " +
                               log_file());
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

void Replica::set_apply_delay(std::chrono::milliseconds delay) const {
  const std::string ms = std::to_string(delay.count());
  execute("ALTER SYSTEM SET recovery_min_apply_delay = '" + ms + "ms'");
  execute("SELECT pg_reload_conf()");
  wait_for_setting("recovery_min_apply_delay", ms);  // pg_settings reports milliseconds
}

void Replica::reset_apply_delay() const {
  execute("ALTER SYSTEM RESET recovery_min_apply_delay");
  execute("SELECT pg_reload_conf()");
  wait_for_setting("recovery_min_apply_delay", "0");
}

ReplicaSet::ReplicaSet(const PostgresServer& primary) : primary_(primary) {
  const auto started = Clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    replicas_.push_back(std::make_unique<Replica>(primary_));
  }
  startup_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
}

// Replicas first: each one's stop drops its slot on the still running primary.
ReplicaSet::~ReplicaSet() = default;

ReplicaSet& ReplicaSet::instance() {
  // The primary first, so that its statics outlive ours (destroyed in reverse
  // order): the replicas stop before it.
  const PostgresServer& primary = PostgresServer::instance();
  static std::mutex mutex;
  static std::unique_ptr<ReplicaSet> set;
  static std::string failure;
  std::lock_guard lock(mutex);
  if (!set && failure.empty()) {
    try {
      set.reset(new ReplicaSet(primary));
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (!set) throw std::runtime_error("replicas did not start: " + failure);
  return *set;
}

std::string ReplicaSet::primary_lsn() const {
  return primary_.execute("SELECT pg_current_wal_insert_lsn()::text")[0][0].as<std::string>();
}

void ReplicaSet::wait_for_replay(const std::string& lsn, std::chrono::milliseconds timeout) const {
  for (const auto& replica : replicas_) {
    if (replica->running()) replica->wait_for_replay(lsn, timeout);
  }
}

ReplicaStopGuard::~ReplicaStopGuard() {
  try {
    if (!replica_.running()) replica_.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ReplicaStopGuard: %s\n", e.what());
  }
}

ApplyDelayGuard::~ApplyDelayGuard() {
  try {
    replica_.reset_apply_delay();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ApplyDelayGuard: %s\n", e.what());
  }
}

}  // namespace pggat::test
