// IoThreads: extra threads, each running its own io_context, that client connections are spread over.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include "net/io_executor.hpp"

namespace pggat::net {

// The host's executor is thread 0; `extra` more threads each run an
// io_context of their own. A connection stays on the thread it was given, so
// its handlers never need a lock against each other; what threads share
// (pools, the session table) has its own.
class IoThreads {
 public:
  // Throws std::invalid_argument when `host` is not an io_context's.
  IoThreads(const asio::any_io_executor& host, std::size_t extra);
  ~IoThreads();  // stop()s
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  // Round robin over the host and the extra threads.
  [[nodiscard]] IoExecutor next();
  [[nodiscard]] std::size_t size() const { return 1 + contexts_.size(); }

  // Stops the extra io_contexts and joins their threads; handlers still queued
  // there stay queued (they are destroyed with the contexts). Never call it
  // from one of the extra threads. Idempotent.
  void stop();

 private:
  using Guard = asio::executor_work_guard<asio::io_context::executor_type>;
  IoExecutor host_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> turn_{0};
  bool stopped_ = false;
};

// What `threads: 0` means: one per core the process may run on.
[[nodiscard]] std::size_t default_thread_count();

}  // namespace pggat::net
