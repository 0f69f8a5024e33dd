// RelayLoop: transaction-mode units through relay_unit between socket pairs, no PostgreSQL.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <asio/io_context.hpp>

#include "backend/server_connection.hpp"
#include "frontend/client_session.hpp"
#include "pool/transaction_relay.hpp"

namespace pggat::test {

// A client session and a server connection, each over a unix socket pair
// whose other end a peer thread plays with preallocated buffers and
// blocking calls: the client sends a query once it has the last reply, the
// server answers each with CommandComplete and ReadyForQuery. What runs on the
// io_context is pggat's relay and the event loop, nothing else. For the
// allocation test and the micro-benchmarks.
class RelayLoop {
 public:
  RelayLoop();
  ~RelayLoop();
  RelayLoop(const RelayLoop&) = delete;
  RelayLoop& operator=(const RelayLoop&) = delete;

  // Relays `count` round trips, one relay_unit each, calling before_unit(i)
  // (on the io thread) before unit i. Returns the units that ended released;
  // throws std::runtime_error if a peer saw other bytes than it expected.
  int run(int count, const std::function<void(int)>& before_unit = {});
  // CPU time the io thread (the caller's) spent in the last run().
  [[nodiscard]] std::chrono::nanoseconds last_run_cpu() const { return last_run_cpu_; }

 private:
  asio::io_context io_{1};
  int client_outside_ = -1;
  int server_outside_ = -1;
  std::unique_ptr<detail::ClientSession> session_;
  std::unique_ptr<backend::ServerConnection> server_;
  pool::TransactionServer server_state_;
  pool::TransactionClient client_state_;
  const std::string query_;
  const std::string reply_;
  std::chrono::nanoseconds last_run_cpu_{0};
};

}  // namespace pggat::test
