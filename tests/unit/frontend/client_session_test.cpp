// ClientSession: a parked client moved to another thread's io_context (wait_parked_on).
#include "frontend/client_session.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include <asio/io_context.hpp>

#include "../net/run_until.hpp"
#include "../net/socket_pair.hpp"

using pggat::detail::ClientSession;
using pggat::net::IoExecutor;
using pggat::test::run_until;

namespace {

// Where a woken client ends up, with what woke it.
struct Outcome {
  std::optional<std::error_code> ec;
  std::unique_ptr<ClientSession::Owner> owner;
};

struct Readable final : ClientSession::Parked {
  explicit Readable(Outcome& out) : out(out) {}
  void readable(std::unique_ptr<ClientSession::Owner> owner, std::error_code ec) override {
    out.ec = ec;
    out.owner = std::move(owner);
  }
  Outcome& out;
};

struct TestOwner final : ClientSession::Owner {
  TestOwner(asio::io_context& io, int& outside, Outcome& out, bool* destroyed = nullptr)
      : session(pggat::test::socket_pair(io, outside), {}, pggat::BackendKey{}), destroyed(destroyed) {
    session.park(std::make_unique<Readable>(out));
  }
  ~TestOwner() override {
    if (destroyed) *destroyed = true;
  }
  ClientSession& owned() override { return session; }
  void finish(std::unique_ptr<ClientSession::Owner> /*self*/, pggat::Verdict /*verdict*/) override {}
  void moved_to(const IoExecutor& executor) override {
    moved = executor;
    ++moves;
  }

  ClientSession session;
  std::optional<IoExecutor> moved;
  int moves = 0;
  bool* destroyed;
};

// A client on `a` and a second io_context, `b`, to move it to.
struct TwoContexts {
  ~TwoContexts() {
    if (outside >= 0) ::close(outside);
  }
  asio::io_context a;
  asio::io_context b;
  int outside = -1;
  Outcome out;  // after the contexts: a woken client goes before them
  std::unique_ptr<TestOwner> owner = std::make_unique<TestOwner>(a, outside, out);
  TestOwner& o = *owner;
};

}  // namespace

TEST_CASE("wait_parked_on: the client's connection moves to the other io_context and is woken there",
          "[frontend][threads]") {
  TwoContexts t;
  asio::io_context& a = t.a;
  asio::io_context& b = t.b;
  Outcome& out = t.out;
  TestOwner& o = t.o;
  ClientSession::wait_parked_on(std::move(t.owner), b.get_executor());
  // Told before it is parked there, on the thread it left.
  REQUIRE(o.moved.has_value());
  CHECK(*o.moved == b.get_executor());
  CHECK(o.session.conn.stream.get_executor() == b.get_executor());
  CHECK(a.poll() == 0);  // nothing of it is left on the first one

  run_until(b, [&] { return o.session.waiting_parked.load(); });
  REQUIRE(o.session.waiting_parked.load());
  CHECK_FALSE(out.ec.has_value());
  REQUIRE(::write(t.outside, "Q", 1) == 1);
  run_until(b, [&] { return out.ec.has_value(); });
  REQUIRE(out.ec.has_value());
  CHECK_FALSE(*out.ec);  // data waits, in b's reactor now
  CHECK(out.owner.get() == &o);
  CHECK_FALSE(o.session.waiting_parked.load());
  CHECK(a.poll() == 0);
}

TEST_CASE("wait_parked_on the same io_context parks the client where it is, without a move",
          "[frontend][threads]") {
  TwoContexts t;
  asio::io_context& a = t.a;
  Outcome& out = t.out;
  TestOwner& o = t.o;
  ClientSession::wait_parked_on(std::move(t.owner), a.get_executor());
  CHECK(o.moves == 0);
  CHECK(o.session.waiting_parked.load());  // parked at once, not posted
  ::close(std::exchange(t.outside, -1));  // end of file wakes it
  run_until(a, [&] { return out.ec.has_value(); });
  REQUIRE(out.ec.has_value());
  CHECK_FALSE(*out.ec);
}

TEST_CASE("wait_parked_on a closed connection parks it where it is, and it is woken with the error",
          "[frontend][threads]") {
  TwoContexts t;
  asio::io_context& a = t.a;
  asio::io_context& b = t.b;
  Outcome& out = t.out;
  TestOwner& o = t.o;
  o.session.conn.stream.close();
  ClientSession::wait_parked_on(std::move(t.owner), b.get_executor());
  CHECK(o.moves == 0);  // nothing moved: the owner hears of no move
  run_until(a, [&] { return out.ec.has_value(); });
  REQUIRE(out.ec.has_value());
  CHECK(*out.ec);
  CHECK(b.poll() == 0);
}

TEST_CASE("a client moved to an io_context that goes before it runs goes with it", "[frontend][threads]") {
  asio::io_context a;
  bool destroyed = false;
  int outside = -1;
  Outcome out;
  {
    asio::io_context b;
    ClientSession::wait_parked_on(std::make_unique<TestOwner>(a, outside, out, &destroyed), b.get_executor());
    CHECK_FALSE(destroyed);
  }
  CHECK(destroyed);
  CHECK_FALSE(out.ec.has_value());
  ::close(outside);
}
