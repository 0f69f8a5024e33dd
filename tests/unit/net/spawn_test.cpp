// net::launch and net::spawn: where a task runs, what its completion gets, an escaped exception, a stack left waiting.
#include "net/spawn.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include "net/timer_wait.hpp"
#include "run_until.hpp"

namespace {

asio::awaitable<int> answer_at_once() { co_return 42; }

// Waits on a timer (through net::wait's direct await, or use_awaitable),
// then answers with the thread it resumed on checked.
asio::awaitable<int> answer_after_wait(asio::io_context& io, bool direct, std::thread::id expected_thread) {
  if (direct) {
    pggat::net::SteadyTimer timer(io.get_executor(), std::chrono::milliseconds(1));
    std::error_code ec;
    co_await pggat::net::wait(timer, ec);
    if (ec) co_return -1;
  } else {
    asio::steady_timer timer(io, std::chrono::milliseconds(1));
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return std::this_thread::get_id() == expected_thread ? 7 : -2;
}

asio::awaitable<int> throw_after_wait() {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
  co_await timer.async_wait(asio::use_awaitable);
  throw std::runtime_error("boom");
}

asio::awaitable<void> throw_at_once() {
  throw std::runtime_error("bang");
  co_return;
}

// Sets its flag when destroyed: tells whether a task's frame went.
struct Witness {
  std::shared_ptr<bool> destroyed;
  ~Witness() { *destroyed = true; }
};

asio::awaitable<void> wait_for_ever(std::shared_ptr<bool> destroyed) {
  const Witness witness{std::move(destroyed)};
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::hours(1));
  std::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

TEST_CASE("net::launch runs a task that does not wait before it returns, and hands over its result",
          "[net][spawn]") {
  asio::io_context io;
  int calls = 0;
  std::optional<int> got;
  pggat::net::launch(io.get_executor(), answer_at_once(), [&](std::exception_ptr e, int value) {
    ++calls;
    if (!e) got = value;
  });
#if PGGAT_AWAIT_DIRECTLY
  // Nothing was run by the io_context: launch ran it where it was called.
  CHECK(calls == 1);
  CHECK(io.poll() == 0);
#else
  io.poll();  // co_spawn, the fallback, posts the completion
#endif
  CHECK(calls == 1);
  REQUIRE(got);
  CHECK(*got == 42);
}

TEST_CASE("net::launch: a task that waits is resumed on its executor and its result handed over once",
          "[net][spawn]") {
  const bool direct = GENERATE(false, true);
  CAPTURE(direct);
  asio::io_context io;
  int calls = 0;
  bool done = false;
  int got = 0;
  pggat::net::launch(io.get_executor(), answer_after_wait(io, direct, std::this_thread::get_id()),
                     [&](std::exception_ptr e, int value) {
                       ++calls;
                       done = true;
                       got = e ? -3 : value;
                     });
  CHECK_FALSE(done);  // it waits on the timer
  REQUIRE(pggat::test::run_until(io, [&] { return done; }));
  CHECK(got == 7);
  io.restart();
  io.poll();
  CHECK(calls == 1);
}

TEST_CASE("net::launch hands an escaped exception to the completion, with a default value", "[net][spawn]") {
  asio::io_context io;
  bool done = false;
  std::string what;
  int value_given = -1;
  pggat::net::launch(io.get_executor(), throw_after_wait(), [&](std::exception_ptr e, int value) {
    done = true;
    value_given = value;
    try {
      if (e) std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    }
  });
  REQUIRE(pggat::test::run_until(io, [&] { return done; }));
  CHECK(what == "boom");
  CHECK(value_given == 0);

  bool void_done = false;
  std::exception_ptr void_error;
  pggat::net::launch(io.get_executor(), throw_at_once(), [&](std::exception_ptr e) {
    void_done = true;
    void_error = e;
  });
  REQUIRE(pggat::test::run_until(io, [&] { return void_done; }));
  CHECK(void_error != nullptr);
}

TEST_CASE("net::launch: a task still waiting when its io_context goes is destroyed with it", "[net][spawn]") {
  auto destroyed = std::make_shared<bool>(false);
  bool completed = false;
  {
    asio::io_context io;
    pggat::net::launch(io.get_executor(), wait_for_ever(destroyed), [&](std::exception_ptr) { completed = true; });
    io.poll();
    CHECK_FALSE(*destroyed);
  }
  CHECK(*destroyed);
  CHECK_FALSE(completed);
}

TEST_CASE("net::spawn starts its task from the executor's queue and logs what escapes it", "[net][spawn]") {
  std::ostringstream logged;
  auto log = std::make_shared<spdlog::logger>("spawn-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(logged));
  asio::io_context io;
  pggat::net::spawn(io.get_executor(), throw_at_once(), log, "the test task");
  CHECK(logged.str().empty());  // posted: nothing ran in the caller
  io.run();
  CHECK(logged.str().find("internal error in the test task: bang") != std::string::npos);
}
