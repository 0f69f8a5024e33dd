// IoThreads: starting, choosing and stopping the extra io_context threads.
#include "net/io_threads.hpp"

#include <sched.h>

namespace pggat::net {

IoThreads::IoThreads(const asio::any_io_executor& host, std::size_t extra) : host_(io_executor(host)) {
  contexts_.reserve(extra);
  for (std::size_t i = 0; i < extra; ++i) {
    // Hint 1: one thread runs each context (Asio then keeps that thread's
    // completions in a private queue). Other threads still post to it.
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
  threads_.reserve(extra);
  for (auto& ctx : contexts_) threads_.emplace_back([io = ctx.get()] { io->run(); });
}

IoThreads::~IoThreads() { stop(); }

IoExecutor IoThreads::next() {
  if (contexts_.empty() || stopped_) return host_;
  const std::size_t i = turn_.fetch_add(1, std::memory_order_relaxed) % size();
  if (i == 0) return host_;
  return contexts_[i - 1]->get_executor();
}

void IoThreads::stop() {
  if (stopped_) return;
  stopped_ = true;
  guards_.clear();
  for (auto& ctx : contexts_) ctx->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::size_t default_thread_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<std::size_t>(n);
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? n : 1;
}

}  // namespace pggat::net
