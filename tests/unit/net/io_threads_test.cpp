// IoThreads: round robin without a fill; with one, new clients on the first thread with time to spare, loads sampled on each thread, moves off a busy one.
#include "net/io_threads.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/post.hpp>

using pggat::net::IoExecutor;
using pggat::net::IoThreads;
using namespace std::chrono_literals;

namespace {

// The host's io_context, run on a thread of its own while this lives.
struct Host {
  Host() : work(asio::make_work_guard(io)), thread([this] { io.run(); }) {}
  ~Host() {
    work.reset();
    io.stop();
    thread.join();
  }
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;
};

// Polls `done` until it holds or five seconds pass.
template <class Done>
bool eventually(Done done) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Keeps an io_context busy with handlers of 20 ms each, one after the
// other, until `stop`: its sampler runs between two of them.
void keep_busy(const IoExecutor& executor, std::atomic<bool>& stop, std::atomic<int>& running) {
  ++running;
  asio::post(executor, [executor, &stop, &running] {
    const auto until = std::chrono::steady_clock::now() + 20ms;
    while (std::chrono::steady_clock::now() < until) {
    }
    --running;
    if (!stop) keep_busy(executor, stop, running);
  });
}

}  // namespace

TEST_CASE("IoThreads without a fill: round robin over the host and the extra threads, no moves",
          "[net][threads]") {
  Host host;
  IoThreads threads(host.io.get_executor(), 2, 0);
  CHECK(threads.size() == 3);
  std::set<const void*> seen;
  for (int i = 0; i < 6; ++i) seen.insert(&threads.next().context());
  CHECK(seen.size() == 3);
  CHECK_FALSE(threads.move_from(host.io.get_executor()).has_value());
  threads.stop();
}

TEST_CASE("IoThreads with a fill: new clients on the host while it has time to spare; a busy thread's "
          "clients move to an idle one",
          "[net][threads]") {
  Host host;
  IoThreads threads(host.io.get_executor(), 1, 500);
  CHECK(threads.fill() == 500);
  CHECK(threads.next() == host.io.get_executor());  // nothing measured yet: all under the fill

  // The extra thread busy through whole sample periods: its load shows it.
  const IoExecutor extra = threads.executor(1);
  std::atomic<bool> stop{false};
  std::atomic<int> running{0};
  keep_busy(extra, stop, running);
  REQUIRE(eventually([&] { return threads.load(1) >= 500; }));
  CHECK(threads.load(0) < 250);
  CHECK(threads.next() == host.io.get_executor());
  // Between units on the busy thread (asked from it, as the pool does): off to the host.
  std::atomic<bool> answered{false};
  std::optional<IoExecutor> to;
  asio::post(extra, [&] {
    to = threads.move_from(extra);
    answered = true;
  });
  REQUIRE(eventually([&] { return answered.load(); }));
  REQUIRE(to.has_value());
  CHECK(*to == host.io.get_executor());
  CHECK(threads.moves() == 1);
  stop = true;
  REQUIRE(eventually([&] { return running.load() == 0; }));
  // The host is not past the fill: its clients stay.
  CHECK_FALSE(threads.move_from(host.io.get_executor()).has_value());
  threads.stop();
  CHECK(threads.next() == host.io.get_executor());  // stopped: the host only
}

TEST_CASE("IoThreads: stop leaves nothing of the sampling on the host's io_context", "[net][threads]") {
  asio::io_context io{1};
  {
    IoThreads threads(io.get_executor(), 1, 750);
    io.poll();  // the host's sampler starts: a wait is pending
    threads.stop();
  }
  // run() returns: nothing keeps the host busy once the threads are stopped.
  std::thread runner([&] { io.run(); });
  runner.join();
  SUCCEED();
}
