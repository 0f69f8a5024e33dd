// IoThreads: extra threads, each running its own io_context, that client connections are spread over.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include "net/io_executor.hpp"

namespace pggat::net {

// The host's executor is thread 0; `extra` more threads each run an
// io_context of their own. A client's handlers run on one thread at a time,
// so they never need a lock against each other; what threads share (pools,
// the session table) has its own.
//
// Where clients go (net/thread_policy.hpp): with a fill (permille of a
// thread's time), threads are filled in order, each one's load sampled on it
// every `sample_period`, and a client between units on a thread past the
// fill moves to one well under it (move_from); with fill 0, round robin and
// no moves.
class IoThreads {
 public:
  static constexpr std::chrono::milliseconds sample_period{100};
  // Moves out of one thread per sample period at most: a thread past the
  // fill sheds load a step at a time, the loads re-read between steps.
  static constexpr std::uint32_t moves_per_period = 16;

  // Throws std::invalid_argument when `host` is not an io_context's.
  IoThreads(const asio::any_io_executor& host, std::size_t extra, std::uint32_t fill = 0);
  ~IoThreads();  // stop()s
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  // The thread for a new client.
  [[nodiscard]] IoExecutor next();
  // For a client between units (nothing of it buffered, no server held) on
  // `current`: the thread it should move to, or nullopt. Cheap when it stays.
  [[nodiscard]] std::optional<IoExecutor> move_from(const IoExecutor& current);

  [[nodiscard]] std::size_t size() const { return 1 + contexts_.size(); }
  // Thread i's executor (0: the host's), i < size().
  [[nodiscard]] IoExecutor executor(std::size_t i) const;
  [[nodiscard]] std::uint32_t fill() const { return fill_; }
  // Thread i's load over its last sample period, in permille (0 before the first).
  [[nodiscard]] std::uint32_t load(std::size_t i) const;
  // Clients moved between threads so far.
  [[nodiscard]] std::uint64_t moves() const;

  // Stops the extra io_contexts and joins their threads, and the host's
  // sampling (when the host runs next); handlers still queued there stay
  // queued (they are destroyed with the contexts). Never from one of the
  // extra threads. Idempotent.
  void stop();

  struct Shared;  // what the threads' samplers and the callers share
  class Sampler;

 private:
  [[nodiscard]] std::optional<std::size_t> index_of(const IoExecutor& executor) const;

  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  IoExecutor host_;
  std::uint32_t fill_;
  std::shared_ptr<Shared> shared_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::shared_ptr<Sampler> host_sampler_;
  std::atomic<std::size_t> turn_{0};
  std::atomic<bool> stopped_{false};  // read by clients between units, on every thread
};

// What `threads: 0` means: one per core the process may run on.
[[nodiscard]] std::size_t default_thread_count();

}  // namespace pggat::net
