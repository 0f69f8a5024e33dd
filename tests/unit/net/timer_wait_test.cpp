// net::wait: a timer's wait that resumes its caller from the completion; expiry, cancel, and a cancel that came first.
#include "net/timer_wait.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "run_until.hpp"

using pggat::net::SteadyTimer;

namespace {

asio::awaitable<void> wait_once(SteadyTimer& timer, std::optional<std::error_code>& out) {
  std::error_code ec;
  co_await pggat::net::wait(timer, ec);
  out = ec;
}

}  // namespace

TEST_CASE("net::wait completes with no error when the timer expires", "[net][timer_wait]") {
  asio::io_context io;
  SteadyTimer timer(io.get_executor(), std::chrono::milliseconds(1));
  std::optional<std::error_code> out;
  asio::co_spawn(io, wait_once(timer, out), asio::detached);
  REQUIRE(pggat::test::run_until(io, [&] { return out.has_value(); }));
  CHECK_FALSE(*out);
}

TEST_CASE("net::wait yields operation_aborted when the timer is cancelled, or the caller is", "[net][timer_wait]") {
  const bool by_slot = GENERATE(false, true);
  CAPTURE(by_slot);
  asio::io_context io;
  SteadyTimer timer(io.get_executor(), std::chrono::hours(1));
  asio::cancellation_signal cancel;
  std::optional<std::error_code> out;
  asio::co_spawn(io, wait_once(timer, out), asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  io.poll();
  REQUIRE_FALSE(out);
  if (by_slot)
    cancel.emit(asio::cancellation_type::terminal);
  else
    timer.cancel();
  REQUIRE(pggat::test::run_until(io, [&] { return out.has_value(); }));
  CHECK(*out == asio::error::operation_aborted);
}

// The cancel fired while the caller waited for something else: an hour-long
// wait started after it would not see it.
TEST_CASE("net::wait after its caller was cancelled yields operation_aborted at once", "[net][timer_wait]") {
  asio::io_context io;
  SteadyTimer first(io.get_executor(), std::chrono::hours(1));
  SteadyTimer second(io.get_executor(), std::chrono::hours(1));
  asio::cancellation_signal cancel;
  std::optional<std::error_code> first_out;
  std::optional<std::error_code> second_out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await asio::this_coro::throw_if_cancelled(false);
        co_await wait_once(first, first_out);
        co_await wait_once(second, second_out);
      },
      asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  io.poll();
  REQUIRE_FALSE(first_out);
  cancel.emit(asio::cancellation_type::terminal);
  REQUIRE(pggat::test::run_until(io, [&] { return second_out.has_value(); }));
  CHECK(*first_out == asio::error::operation_aborted);
  CHECK(*second_out == asio::error::operation_aborted);
}
