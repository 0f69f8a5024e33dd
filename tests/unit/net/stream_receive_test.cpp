// Stream::receive: a read that resumes its caller from the completion; what a cancel, a close and a cancel that came
// before the read do to it.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "net/stream.hpp"
#include "run_until.hpp"
#include "socket_pair.hpp"

using pggat::net::IoResult;
using pggat::net::Stream;
using pggat::test::socket_pair;

namespace {

struct Outcome {
  std::optional<std::error_code> ec;
  std::string bytes;
  bool frame_left = false;  // the coroutine ran to its end and its frame went
};

// Destroyed with the coroutine's frame.
struct FrameGuard {
  bool* left;
  ~FrameGuard() { *left = true; }
};

asio::awaitable<void> receive_once(Stream& stream, Outcome& out) {
  FrameGuard guard{&out.frame_left};
  char buf[16];
  IoResult result;
  co_await stream.receive(asio::buffer(buf), result);
  out.bytes.assign(buf, std::get<1>(result));
  out.ec = std::get<0>(result);
}

// Runs `io` until `out` has an outcome, for at most a few seconds.
bool run_until(asio::io_context& io, const Outcome& out) {
  return pggat::test::run_until(io, [&] { return out.ec.has_value() && out.frame_left; });
}

}  // namespace

TEST_CASE("Stream::receive cancelled while it waits yields operation_aborted, and the stream reads on after it",
          "[net][stream]") {
  asio::io_context io;
  int outside = -1;
  Stream stream(socket_pair(io, outside));
  const bool drained = GENERATE(false, true);  // a server's stream reads its own way
  CAPTURE(drained);
  stream.set_drained_reads(drained ? Stream::DrainedReads::server : Stream::DrainedReads::off);
  asio::cancellation_signal cancel;
  Outcome first;
  asio::co_spawn(io, receive_once(stream, first), asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  io.poll();
  REQUIRE_FALSE(first.ec);  // waiting: nothing was written

  cancel.emit(asio::cancellation_type::terminal);
  REQUIRE(run_until(io, first));
  CHECK(*first.ec == asio::error::operation_aborted);
  CHECK(first.bytes.empty());

  Outcome second;
  asio::co_spawn(io, receive_once(stream, second), asio::detached);
  REQUIRE(::write(outside, "after", 5) == 5);
  REQUIRE(run_until(io, second));
  CHECK_FALSE(*second.ec);
  CHECK(second.bytes == "after");
  ::close(outside);
}

// A cancel that fired while the coroutine waited for something else (here a
// timer) has no operation left to reach: a read started after it would wait
// for ever on a silent peer.
TEST_CASE("Stream::receive after its coroutine was cancelled yields operation_aborted at once", "[net][stream]") {
  asio::io_context io;
  int outside = -1;
  Stream stream(socket_pair(io, outside));
  const bool drained = GENERATE(false, true);  // a server's stream reads its own way
  CAPTURE(drained);
  stream.set_drained_reads(drained ? Stream::DrainedReads::server : Stream::DrainedReads::off);
  asio::cancellation_signal cancel;
  Outcome out;
  std::optional<std::error_code> timer_ec;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await asio::this_coro::throw_if_cancelled(false);
        asio::steady_timer timer(io, std::chrono::hours(1));
        const auto [ec] = co_await timer.async_wait(pggat::net::use_nothrow);
        timer_ec = ec;
        co_await receive_once(stream, out);
      },
      asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  io.poll();
  REQUIRE_FALSE(timer_ec);
  cancel.emit(asio::cancellation_type::terminal);
  REQUIRE(run_until(io, out));
  CHECK(*timer_ec == asio::error::operation_aborted);
  CHECK(*out.ec == asio::error::operation_aborted);
  ::close(outside);
}

TEST_CASE("Stream::receive pending when the stream is closed yields operation_aborted, when the peer closes eof",
          "[net][stream]") {
  const bool ours = GENERATE(true, false);
  CAPTURE(ours);
  asio::io_context io;
  int outside = -1;
  Stream stream(socket_pair(io, outside));
  const bool drained = GENERATE(false, true);  // a server's stream reads its own way
  CAPTURE(drained);
  stream.set_drained_reads(drained ? Stream::DrainedReads::server : Stream::DrainedReads::off);
  Outcome out;
  asio::co_spawn(io, receive_once(stream, out), asio::detached);
  io.poll();
  REQUIRE_FALSE(out.ec);
  if (ours)
    stream.close();
  else
    ::close(outside);
  REQUIRE(run_until(io, out));
  CHECK(*out.ec == (ours ? make_error_code(asio::error::operation_aborted) : make_error_code(asio::error::eof)));
  if (ours) ::close(outside);
}

// A stream on its reader's io_context completes right in the reactor; one on
// another io_context (not how pggat runs: streams move to their reader's)
// must still resume the reader on its own thread.
TEST_CASE("Stream::receive resumes its caller on the caller's io_context when the stream is on another one",
          "[net][stream]") {
  asio::io_context callers;
  asio::io_context streams;
  auto keep_running = asio::make_work_guard(streams);
  std::thread streams_thread([&] { streams.run(); });
  int outside = -1;
  Stream stream(socket_pair(streams, outside));
  const bool drained = GENERATE(false, true);  // a server's stream reads its own way
  CAPTURE(drained);
  stream.set_drained_reads(drained ? Stream::DrainedReads::server : Stream::DrainedReads::off);
  Outcome out;
  std::thread::id resumed_on;
  asio::co_spawn(
      callers,
      [&]() -> asio::awaitable<void> {
        co_await receive_once(stream, out);
        resumed_on = std::this_thread::get_id();
      },
      asio::detached);
  callers.poll();
  REQUIRE(::write(outside, "there", 5) == 5);
  const bool done = run_until(callers, out);
  keep_running.reset();
  streams.stop();
  streams_thread.join();
  REQUIRE(done);
  CHECK_FALSE(*out.ec);
  CHECK(out.bytes == "there");
  CHECK(resumed_on == std::this_thread::get_id());
  ::close(outside);
}
