// IoThreads: starting, choosing, sampling and stopping the extra io_context threads.
#include "net/io_threads.hpp"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "net/thread_policy.hpp"

namespace pggat::net {

struct IoThreads::Shared {
  explicit Shared(std::size_t n)
      : count(n), loads(new std::atomic<std::uint32_t>[n]), moves_left(new std::atomic<std::uint32_t>[n]) {
    for (std::size_t i = 0; i < n; ++i) {
      loads[i].store(0, std::memory_order_relaxed);
      moves_left[i].store(moves_per_period, std::memory_order_relaxed);
    }
  }
  // What thread_policy.hpp reads: the loads as they are now.
  struct Loads {
    const Shared& s;
    [[nodiscard]] std::size_t size() const { return s.count; }
    std::uint32_t operator[](std::size_t i) const { return s.loads[i].load(std::memory_order_relaxed); }
  };

  const std::size_t count;
  std::unique_ptr<std::atomic<std::uint32_t>[]> loads;
  std::unique_ptr<std::atomic<std::uint32_t>[]> moves_left;  // this period's
  std::atomic<std::uint64_t> moved{0};
};

// Reads its thread's CPU time every sample_period, on that thread: its
// share of the period is the thread's load. Its pending wait keeps it alive.
class IoThreads::Sampler : public std::enable_shared_from_this<IoThreads::Sampler> {
 public:
  Sampler(const IoExecutor& executor, std::shared_ptr<Shared> shared, std::size_t index)
      : timer_(executor), shared_(std::move(shared)), index_(index) {}

  // On the sampler's thread.
  void start() {
    if (cancelled_) return;
    cpu_ = thread_cpu();
    at_ = std::chrono::steady_clock::now();
    arm();
  }
  // On the sampler's thread: a start still queued then starts nothing.
  void cancel() {
    cancelled_ = true;
    timer_.cancel();
  }

 private:
  static std::chrono::nanoseconds thread_cpu() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  }

  void arm() {
    timer_.expires_after(sample_period);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec) return;
      self->sample();
      self->arm();
    });
  }

  void sample() {
    const auto cpu = thread_cpu();
    const auto now = std::chrono::steady_clock::now();
    const auto wall = now - at_;
    if (wall.count() > 0) {
      const auto permille = (cpu - cpu_) * 1000 / wall;
      shared_->loads[index_].store(static_cast<std::uint32_t>(std::clamp<std::int64_t>(permille, 0, 1000)),
                                   std::memory_order_relaxed);
    }
    shared_->moves_left[index_].store(moves_per_period, std::memory_order_relaxed);
    cpu_ = cpu;
    at_ = now;
  }

  asio::steady_timer timer_;
  std::shared_ptr<Shared> shared_;
  std::size_t index_;
  std::chrono::nanoseconds cpu_{0};
  std::chrono::steady_clock::time_point at_;
  bool cancelled_ = false;
};

IoThreads::IoThreads(const asio::any_io_executor& host, std::size_t extra, std::uint32_t fill)
    : host_(io_executor(host)), fill_(fill), shared_(std::make_shared<Shared>(1 + extra)) {
  contexts_.reserve(extra);
  for (std::size_t i = 0; i < extra; ++i) {
    // Hint 1: one thread runs each context (Asio then keeps that thread's
    // completions in a private queue). Other threads still post to it.
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
  // Loads matter only where there is a choice, and only with a fill.
  if (extra > 0 && fill_ > 0) {
    for (std::size_t i = 0; i <= extra; ++i) {
      auto sampler = std::make_shared<Sampler>(executor(i), shared_, i);
      asio::post(executor(i), [sampler] { sampler->start(); });
      if (i == 0) host_sampler_ = std::move(sampler);
    }
  }
  threads_.reserve(extra);
  for (auto& ctx : contexts_) threads_.emplace_back([io = ctx.get()] { io->run(); });
}

IoThreads::~IoThreads() { stop(); }

IoExecutor IoThreads::executor(std::size_t i) const {
  return i == 0 ? host_ : contexts_[i - 1]->get_executor();
}

std::optional<std::size_t> IoThreads::index_of(const IoExecutor& executor) const {
  if (executor == host_) return 0;
  for (std::size_t i = 0; i < contexts_.size(); ++i)
    if (executor == contexts_[i]->get_executor()) return i + 1;
  return std::nullopt;
}

IoExecutor IoThreads::next() {
  if (contexts_.empty() || stopped_.load(std::memory_order_relaxed)) return host_;
  if (fill_ > 0) return executor(place_client(Shared::Loads{*shared_}, fill_));
  const std::size_t i = turn_.fetch_add(1, std::memory_order_relaxed) % size();
  return executor(i);
}

std::optional<IoExecutor> IoThreads::move_from(const IoExecutor& current) {
  if (fill_ == 0 || contexts_.empty() || stopped_.load(std::memory_order_relaxed)) return std::nullopt;
  const auto from = index_of(current);
  if (!from || shared_->loads[*from].load(std::memory_order_relaxed) < fill_) return std::nullopt;
  const auto to = move_target(Shared::Loads{*shared_}, *from, fill_);
  if (!to) return std::nullopt;
  // This period's allowance: taken by the thread itself, the only caller for it.
  auto& left = shared_->moves_left[*from];
  const std::uint32_t n = left.load(std::memory_order_relaxed);
  if (n == 0) return std::nullopt;
  left.store(n - 1, std::memory_order_relaxed);
  shared_->moved.fetch_add(1, std::memory_order_relaxed);
  return executor(*to);
}

std::uint32_t IoThreads::load(std::size_t i) const {
  return i < shared_->count ? shared_->loads[i].load(std::memory_order_relaxed) : 0;
}

std::uint64_t IoThreads::moves() const { return shared_->moved.load(std::memory_order_relaxed); }

void IoThreads::stop() {
  if (stopped_.exchange(true)) return;
  // The host goes on running: its sampler's wait must not keep it busy.
  // Cancelled on the host's thread, whichever thread this is.
  if (host_sampler_) asio::post(host_, [sampler = std::move(host_sampler_)] { sampler->cancel(); });
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
