// ParkingLot: parked streams, light and then deep, wake on data, end of file and close, again after a wake, in batches, and go with their io_context.
#include "net/parking_lot.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "net/stream.hpp"
#include "socket_pair.hpp"

using pggat::net::ParkingLot;
using pggat::net::Stream;

namespace {

// A spot around one end of a socket pair; what woke it is written to
// `*outcome`, and the spot comes back through `*back`.
struct TestSpot final : ParkingLot::Spot {
  TestSpot(asio::io_context& io, int& outside, bool* destroyed = nullptr)
      : stream(pggat::test::socket_pair(io, outside)), destroyed(destroyed) {}
  ~TestSpot() override {
    if (destroyed) *destroyed = true;
  }
  Stream& parked_stream() override { return stream; }
  void woken(std::unique_ptr<ParkingLot::Spot> self, std::error_code ec) override {
    outcome = ec;
    ++wakes;
    back = std::unique_ptr<TestSpot>(static_cast<TestSpot*>(self.release()));
  }

  Stream stream;
  bool* destroyed;
  std::optional<std::error_code> outcome;
  int wakes = 0;
  std::unique_ptr<TestSpot> back;  // where the lot hands it back (the spot owns itself then)
};

// Parks `spot` (which then belongs to the lot) and returns it to look at.
TestSpot& park(std::unique_ptr<TestSpot> spot) {
  TestSpot& s = *spot;
  ParkingLot::of(s.stream).park(std::move(spot));
  return s;
}

// Runs `io` until `done` or nothing is left to run.
template <class Done>
void run_until(asio::io_context& io, Done done) {
  io.restart();
  while (!done() && io.run_one() > 0) {
  }
}

// Parks `spot` and runs `io` until the lot's sweep moved it out of the
// reactor (ParkingLot::light_ms on).
TestSpot& park_deep(asio::io_context& io, std::unique_ptr<TestSpot> spot) {
  const int wakes = spot->wakes;
  TestSpot& s = park(std::move(spot));
  run_until(io, [&] { return s.is_parked_deep() || s.wakes > wakes; });
  REQUIRE(s.is_parked_deep());
  return s;
}

}  // namespace

TEST_CASE("ParkingLot parks light first, wakes a light spot when data arrives", "[net][parking]") {
  asio::io_context io;
  int outside = -1;
  TestSpot& spot = park(std::make_unique<TestSpot>(io, outside));
  ParkingLot& lot = ParkingLot::of(spot.stream);
  CHECK(spot.is_parked());
  CHECK_FALSE(spot.is_parked_deep());
  CHECK(lot.light_count() == 1);
  CHECK(spot.stream.socket().is_open());  // still in the reactor
  REQUIRE(::write(outside, "hi", 2) == 2);
  run_until(io, [&] { return spot.outcome.has_value(); });
  REQUIRE(spot.outcome.has_value());
  CHECK(!*spot.outcome);
  CHECK_FALSE(spot.is_parked());
  CHECK(lot.light_count() == 0);
  char buf[4];
  CHECK(spot.stream.read_now(asio::buffer(buf)) == pggat::net::IoResult{std::error_code{}, 2});
  auto owned = std::move(spot.back);
  ::close(outside);
}

TEST_CASE("ParkingLot moves a spot parked a while out of the reactor, and wakes it there when data arrives",
          "[net][parking]") {
  asio::io_context io;
  int outside = -1;
  TestSpot& spot = park_deep(io, std::make_unique<TestSpot>(io, outside));
  ParkingLot& lot = ParkingLot::of(spot.stream);
  CHECK(spot.wakes == 0);
  CHECK(lot.deep_count() == 1);
  CHECK(lot.light_count() == 0);
  CHECK(spot.stream.is_open());
  CHECK_FALSE(spot.stream.socket().is_open());  // out of the reactor

  REQUIRE(::write(outside, "hello", 5) == 5);
  run_until(io, [&] { return spot.outcome.has_value(); });
  REQUIRE(spot.outcome.has_value());
  CHECK(!*spot.outcome);
  CHECK_FALSE(spot.is_parked());
  CHECK(lot.deep_count() == 0);
  REQUIRE(spot.back.get() == &spot);
  // Back in the reactor: a read through Asio gets the bytes.
  REQUIRE(spot.stream.socket().is_open());
  std::array<char, 16> buf{};
  std::error_code ec;
  const std::size_t n = spot.stream.socket().read_some(asio::buffer(buf), ec);
  CHECK(!ec);
  CHECK(std::string(buf.data(), n) == "hello");
  auto owned = std::move(spot.back);
  ::close(outside);
}

TEST_CASE("ParkingLot parks deep again after a wake, and wakes a spot whose peer closed", "[net][parking]") {
  asio::io_context io;
  int outside = -1;
  TestSpot& spot = park_deep(io, std::make_unique<TestSpot>(io, outside));
  REQUIRE(::write(outside, "a", 1) == 1);
  run_until(io, [&] { return spot.wakes == 1; });
  REQUIRE(spot.wakes == 1);
  char c = 0;
  REQUIRE(spot.stream.read_now(asio::buffer(&c, 1)) == pggat::net::IoResult{std::error_code{}, 1});

  // Deep again: the descriptor is re-armed in the set, not added twice.
  park_deep(io, std::move(spot.back));
  ::close(outside);
  run_until(io, [&] { return spot.wakes == 2; });
  REQUIRE(spot.wakes == 2);
  CHECK(!*spot.outcome);
  const auto [ec, n] = spot.stream.read_now(asio::buffer(&c, 1));
  CHECK(ec == asio::error::eof);
  auto owned = std::move(spot.back);
}

TEST_CASE("ParkingLot::close closes a parked stream, light or deep, and wakes it with operation_aborted, later",
          "[net][parking]") {
  asio::io_context io;
  const bool deep = GENERATE(false, true);
  int outside = -1;
  TestSpot& spot = deep ? park_deep(io, std::make_unique<TestSpot>(io, outside))
                        : park(std::make_unique<TestSpot>(io, outside));
  ParkingLot::close(spot);
  CHECK_FALSE(spot.stream.is_open());
  CHECK_FALSE(spot.outcome.has_value());  // not inside the call
  run_until(io, [&] { return spot.outcome.has_value(); });
  REQUIRE(spot.outcome.has_value());
  CHECK(*spot.outcome == asio::error::operation_aborted);
  CHECK(ParkingLot::of(spot.stream).deep_count() == 0);
  CHECK(ParkingLot::of(spot.stream).light_count() == 0);
  // The peer sees the close.
  char c = 0;
  CHECK(::read(outside, &c, 1) == 0);
  auto owned = std::move(spot.back);
  ::close(outside);
  // Nothing of the lot's is left pending: run() runs out of work (well
  // before the bound; the sweep's timer expires within light_ms).
  io.restart();
  io.run_for(std::chrono::seconds(5));
  CHECK(io.stopped());
}

TEST_CASE("ParkingLot::close of a stream that is not parked closes it only", "[net][parking]") {
  asio::io_context io;
  int outside = -1;
  auto spot = std::make_unique<TestSpot>(io, outside);
  ParkingLot::close(*spot);
  CHECK_FALSE(spot->stream.is_open());
  io.run();
  CHECK_FALSE(spot->outcome.has_value());
  ::close(outside);
}

TEST_CASE("ParkingLot wakes only the deep streams that have something, in batches larger than one epoll_wait",
          "[net][parking]") {
  asio::io_context io;
  constexpr int count = 150;
  std::vector<int> outside(count, -1);
  std::vector<TestSpot*> spots;
  for (int i = 0; i < count; ++i) spots.push_back(&park(std::make_unique<TestSpot>(io, outside[i])));
  ParkingLot& lot = ParkingLot::of(spots[0]->stream);
  run_until(io, [&] { return lot.deep_count() == count; });
  REQUIRE(lot.deep_count() == count);
  // 130 of them (more than one batch of 64) send a byte; 20 stay silent.
  for (int i = 0; i < 130; ++i) REQUIRE(::write(outside[i], "x", 1) == 1);
  auto woken = [&] {
    int n = 0;
    for (auto* s : spots) n += s->wakes;
    return n;
  };
  run_until(io, [&] { return woken() == 130; });
  CHECK(woken() == 130);
  for (int i = 0; i < count; ++i) CHECK(spots[i]->is_parked() == (i >= 130));
  CHECK(lot.deep_count() == 20);
  for (int i = 0; i < 130; ++i) auto owned = std::move(spots[i]->back);
  for (int fd : outside) ::close(fd);
  // The 20 still parked go with the io_context (no leak under the sanitizers).
}

TEST_CASE("ParkingLot's io_context deletes what is still parked, light or deep, and closes it", "[net][parking]") {
  const bool deep = GENERATE(false, true);
  bool destroyed = false;
  int outside = -1;
  {
    asio::io_context io;
    if (deep)
      park_deep(io, std::make_unique<TestSpot>(io, outside, &destroyed));
    else
      park(std::make_unique<TestSpot>(io, outside, &destroyed));
    io.poll();
    CHECK_FALSE(destroyed);
  }
  CHECK(destroyed);
  char c = 0;
  CHECK(::read(outside, &c, 1) == 0);  // closed
  ::close(outside);
}

TEST_CASE("ParkingLot wakes a stream it cannot park with the error", "[net][parking]") {
  asio::io_context io;
  int outside = -1;
  auto spot = std::make_unique<TestSpot>(io, outside);
  spot->stream.close();
  TestSpot& s = park(std::move(spot));
  run_until(io, [&] { return s.outcome.has_value(); });
  REQUIRE(s.outcome.has_value());
  CHECK(*s.outcome == asio::error::bad_descriptor);
  auto owned = std::move(s.back);
  ::close(outside);
}

TEST_CASE("ParkingLot keeps its io_context's run going while something is parked deep", "[net][parking]") {
  asio::io_context io;
  int outside = -1;
  TestSpot& spot = park_deep(io, std::make_unique<TestSpot>(io, outside));
  // Pending work: poll runs what is ready and returns, without stopping.
  io.poll();
  CHECK_FALSE(io.stopped());
  REQUIRE(::write(outside, "x", 1) == 1);
  io.run();  // returns once the spot woke and nothing is parked
  CHECK(spot.wakes == 1);
  CHECK(io.stopped());
  auto owned = std::move(spot.back);
  ::close(outside);
}

TEST_CASE("ParkingLot keeps spots light while it has no epoll set (out of descriptors), and goes deep once it can",
          "[net][parking]") {
  asio::io_context io;
  int outside = -1;
  auto first = std::make_unique<TestSpot>(io, outside);
  // The next descriptor would be the lowest free one: with the limit there,
  // the lot, made at the first park, cannot make its epoll set.
  const int lowest_free = ::dup(0);
  REQUIRE(lowest_free >= 0);
  ::close(lowest_free);
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(lowest_free);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  TestSpot& spot = park(std::move(first));
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  ParkingLot& lot = ParkingLot::of(spot.stream);
  CHECK(spot.is_parked());
  CHECK(lot.light_count() == 0);  // kept: not the sweep's to move

  // Several sweeps' worth of time: the client is neither moved nor dropped.
  asio::steady_timer later(io, std::chrono::milliseconds(4 * ParkingLot::light_ms));
  bool passed = false;
  later.async_wait([&](std::error_code) { passed = true; });
  run_until(io, [&] { return passed; });
  CHECK(spot.wakes == 0);
  CHECK(spot.is_parked());
  CHECK_FALSE(spot.is_parked_deep());
  REQUIRE(::write(outside, "x", 1) == 1);
  run_until(io, [&] { return spot.wakes == 1; });
  REQUIRE(spot.outcome.has_value());
  CHECK(!*spot.outcome);

  // Descriptors again: the next park makes the set, and goes deep.
  char c = 0;
  REQUIRE(spot.stream.read_now(asio::buffer(&c, 1)) == pggat::net::IoResult{std::error_code{}, 1});
  park_deep(io, std::move(spot.back));
  CHECK(lot.deep_count() == 1);
  ::close(outside);
  run_until(io, [&] { return spot.wakes == 2; });
  auto owned = std::move(spot.back);
}
