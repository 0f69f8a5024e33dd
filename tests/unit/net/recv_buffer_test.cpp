// RecvBuffer: reading into free space, consuming parsed bytes, compaction and growth.
#include "net/recv_buffer.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

using pggat::net::RecvBuffer;

namespace {

// Copies text into the free space as a socket read would, and commits it.
void receive(RecvBuffer& buf, std::string_view text) {
  const asio::mutable_buffer space = buf.prepare();
  REQUIRE(space.size() >= text.size());
  std::memcpy(space.data(), text.data(), text.size());
  buf.commit(text.size());
}

std::string contents(const RecvBuffer& buf) {
  const auto bytes = buf.data();
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A string of n bytes, each different from its neighbours, to catch misplaced copies.
std::string pattern(std::size_t n, char first = 'a') {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(first + i % 26);
  return s;
}

}  // namespace

TEST_CASE("RecvBuffer allocates on first use", "[net][recv_buffer]") {
  RecvBuffer buf(64);
  CHECK(buf.capacity() == 0);
  CHECK(buf.empty());
  CHECK(buf.size() == 0);
  const asio::mutable_buffer space = buf.prepare();
  CHECK(buf.capacity() == 64);
  CHECK(space.size() == 64);
  CHECK(buf.empty());
}

TEST_CASE("RecvBuffer prepare, commit and consume", "[net][recv_buffer]") {
  RecvBuffer buf(64);
  receive(buf, "hello");
  CHECK(buf.size() == 5);
  CHECK(contents(buf) == "hello");
  CHECK(buf.prepare().size() == 59);

  receive(buf, " world");
  CHECK(contents(buf) == "hello world");

  buf.consume(6);
  CHECK(contents(buf) == "world");
  CHECK(buf.size() == 5);

  // Consuming everything rewinds, so the whole capacity is free again.
  buf.consume(5);
  CHECK(buf.empty());
  CHECK(buf.prepare().size() == 64);
}

TEST_CASE("RecvBuffer compacts a short tail and keeps unparsed bytes", "[net][recv_buffer]") {
  RecvBuffer buf(64);
  const std::string first = pattern(60);
  receive(buf, first);
  buf.consume(50);  // 10 unparsed bytes at 50..60, 4 free at the end
  REQUIRE(contents(buf) == first.substr(50));

  const asio::mutable_buffer space = buf.prepare();
  CHECK(space.size() == 54);  // compacted: the 10 unparsed bytes moved to the front
  CHECK(contents(buf) == first.substr(50));
  receive(buf, "XYZ");
  CHECK(contents(buf) == first.substr(50) + "XYZ");
}

TEST_CASE("RecvBuffer does not compact while the tail is roomy", "[net][recv_buffer]") {
  RecvBuffer buf(64);
  receive(buf, pattern(20));
  buf.consume(10);
  const auto* before = buf.data().data();
  CHECK(buf.prepare().size() == 44);
  CHECK(buf.data().data() == before);  // unparsed bytes did not move
}

TEST_CASE("RecvBuffer reserve_message makes room for a whole message", "[net][recv_buffer]") {
  SECTION("fits already: nothing moves") {
    RecvBuffer buf(64);
    receive(buf, pattern(30));
    buf.consume(10);
    const auto* before = buf.data().data();
    buf.reserve_message(40);
    CHECK(buf.capacity() == 64);
    CHECK(buf.data().data() == before);
    CHECK(contents(buf) == pattern(30).substr(10));
  }
  SECTION("fits after compaction") {
    RecvBuffer buf(64);
    const std::string bytes = pattern(64);
    receive(buf, bytes);
    buf.consume(40);
    buf.reserve_message(50);  // 40 + 50 > 64, but 50 <= 64
    CHECK(buf.capacity() == 64);
    CHECK(contents(buf) == bytes.substr(40));
    CHECK(buf.prepare().size() == 64 - 24);
  }
  SECTION("compacts before it grows") {
    RecvBuffer buf(64);
    receive(buf, pattern(64));
    buf.consume(4);
    buf.reserve_message(200);
    CHECK(buf.capacity() == 64);  // room again after compaction: read first
    CHECK(contents(buf) == pattern(64).substr(4));
    CHECK(buf.prepare().size() == 4);
  }
  SECTION("grows by doubling once full, keeping the buffered bytes") {
    RecvBuffer buf(64);
    const std::string bytes = pattern(64);
    receive(buf, bytes);
    buf.reserve_message(200);
    CHECK(buf.capacity() == 128);
    CHECK(contents(buf) == bytes);
    const asio::mutable_buffer space = buf.prepare();
    CHECK(space.size() == buf.capacity() - 64);
    receive(buf, pattern(64, 'b'));
    buf.reserve_message(200);
    CHECK(buf.capacity() == 200);  // never beyond the message
    CHECK(contents(buf) == bytes + pattern(64, 'b'));
    receive(buf, "tail");
    CHECK(contents(buf) == bytes + pattern(64, 'b') + "tail");
  }
  SECTION("before first use allocates the base capacity") {
    RecvBuffer buf(64);
    buf.reserve_message(1000);
    CHECK(buf.capacity() == 64);
    CHECK(buf.empty());
    CHECK(buf.prepare().size() == buf.capacity());
  }
}

// Hostile input: a client's length field claims a huge message. The buffer
// must follow what arrives; it used to allocate (and zero) the claim at once.
TEST_CASE("RecvBuffer reserve_message grows with the bytes received, not the length claimed",
          "[net][recv_buffer]") {
  constexpr std::size_t claimed = std::size_t{1} << 30;  // 1 GiB, under the message cap
  RecvBuffer buf(64);
  receive(buf, pattern(5));  // a message header
  buf.reserve_message(claimed);
  CHECK(buf.capacity() == 64);
  buf.reserve_message(claimed);  // asked again with nothing new: still nothing to grow for
  CHECK(buf.capacity() == 64);

  // Bytes trickle in, a few at a time, with a reserve_message before each
  // read as the relay does: the buffer stays within twice what was received.
  std::size_t received = 5;
  while (received < 10000) {
    const asio::mutable_buffer space = buf.prepare();
    REQUIRE(space.size() > 0);  // room to read after every reserve_message
    const std::size_t n = std::min<std::size_t>(space.size(), 7);
    receive(buf, pattern(n));
    received += n;
    buf.reserve_message(claimed);
    CHECK(buf.size() == received);
    CHECK(buf.capacity() <= std::max<std::size_t>(2 * received, 64));
  }
}

TEST_CASE("RecvBuffer release_if_empty frees only an empty buffer", "[net][recv_buffer]") {
  RecvBuffer buf(64);
  receive(buf, "abc");
  buf.release_if_empty();
  CHECK(buf.capacity() == 64);
  CHECK(contents(buf) == "abc");

  receive(buf, pattern(61));  // full of an incomplete message: grow, then drain
  buf.reserve_message(500);
  REQUIRE(buf.capacity() > 64);
  buf.consume(64);
  buf.release_if_empty();
  CHECK(buf.capacity() == 0);
  CHECK(buf.empty());
  CHECK(buf.data().size() == 0);

  // Next use starts over at the base capacity: a grown buffer shrinks back.
  receive(buf, "again");
  CHECK(buf.capacity() == 64);
  CHECK(contents(buf) == "again");
}

TEST_CASE("RecvBuffer prepare is empty only when full of unparsed bytes", "[net][recv_buffer]") {
  RecvBuffer buf(16);
  receive(buf, pattern(16));
  CHECK(buf.prepare().size() == 0);
  buf.consume(1);
  CHECK(buf.prepare().size() == 1);  // tail was empty: compacted to make room
  CHECK(contents(buf) == pattern(16).substr(1));
}

TEST_CASE("RecvBuffer prepend puts bytes back in front", "[net][recv_buffer]") {
  auto bytes = [](std::string_view s) { return pggat::proto::as_bytes(s); };
  RecvBuffer buf(16);
  buf.prepend(bytes("first"));  // into an empty, unallocated buffer
  CHECK(contents(buf) == "first");
  receive(buf, "|next");
  buf.consume(6);
  buf.prepend(bytes("again"));  // fits in the consumed space
  CHECK(contents(buf) == "againnext");
  const std::string big = pattern(40);
  buf.prepend(bytes(big));  // needs a bigger buffer; what was there stays behind it
  CHECK(contents(buf) == big + "againnext");
  CHECK(buf.capacity() >= big.size() + 9);
  buf.consume(buf.size());
  CHECK(buf.empty());
}

TEST_CASE("RecvBuffer: a released default-size buffer is the next one's, not freed", "[net][recv_buffer]") {
  RecvBuffer a;
  const auto* storage = static_cast<const std::byte*>(a.prepare().data());
  receive(a, "abc");
  a.release_if_empty();
  CHECK(a.capacity() == 16 * 1024);  // not empty: kept
  a.consume(3);
  a.release_if_empty();
  CHECK(a.capacity() == 0);
  RecvBuffer b;
  CHECK(static_cast<const std::byte*>(b.prepare().data()) == storage);
  CHECK(b.capacity() == RecvBuffer::default_capacity);
}
