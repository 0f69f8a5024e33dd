// pump: injected bytes share the write of the messages around them; yield_before_read ends it unread.
#include "pool/pump.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "pggat/proto/bytes.hpp"

using namespace pggat;

namespace {

struct PumpOutcome {
  pool::PumpResult result;
  pool::PumpState state;
  bool done = false;
};

// A pump between two seqpacket socket pairs: each write arrives as one
// record, so the test sees how many writes the pump made.
class Fixture {
 public:
  Fixture() : client_(make(client_fd_)), server_(make(server_fd_)) {}
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  ~Fixture() {
    ::close(client_fd_);
    ::close(server_fd_);
  }

  asio::io_context io;
  net::Connection& client() { return *client_; }
  net::Connection& server() { return *server_; }

  void client_sends(const std::string& bytes) {
    REQUIRE(::send(client_fd_, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  }
  // The records the server end received, one per write of the pump.
  std::vector<std::string> server_records() {
    std::vector<std::string> out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(server_fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return out;
      out.emplace_back(buf, static_cast<std::size_t>(n));
    }
  }

  PumpOutcome run_pump(auto& inspector) {
    PumpOutcome h;
    const proto::FrameRules rules{proto::Direction::frontend, proto::states::frontend_ready,
                                  proto::default_max_message_length};
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          h.result = co_await pool::pump(*client_, *server_, rules, inspector, h.state);
          h.done = true;
        },
        asio::detached);
    io.run_for(std::chrono::seconds(5));
    io.restart();
    return h;
  }

 private:
  std::unique_ptr<net::Connection> make(int& outside) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
    outside = fds[0];
    net::Socket socket(io);
    socket.assign(asio::generic::stream_protocol(AF_UNIX, 0), fds[1]);
    return std::make_unique<net::Connection>(std::move(socket));
  }

  int client_fd_ = -1;
  int server_fd_ = -1;
  std::unique_ptr<net::Connection> client_;
  std::unique_ptr<net::Connection> server_;
};

std::string message(char type, const std::string& body) {
  std::string out(1, type);
  const auto len = static_cast<std::uint32_t>(body.size() + 4);
  out += static_cast<char>(len >> 24);
  out += static_cast<char>(len >> 16);
  out += static_cast<char>(len >> 8);
  out += static_cast<char>(len);
  return out + body;
}

// Replaces each Bind by other bytes, as the relay renames statements; ends after Sync.
struct RenamingInspector {
  pool::Injections injections_;
  std::vector<char> seen;
  bool needs_whole(char) const { return true; }
  pool::FrameAction on_frame(char type, proto::Bytes) {
    seen.push_back(type);
    if (type == 'B') {
      const std::string renamed = message('B', std::string("renamed") + std::to_string(seen.size()));
      for (char c : renamed) injections_.forward.push_back(static_cast<std::byte>(c));
      return pool::FrameAction::drop;
    }
    return type == 'S' ? pool::FrameAction::last : pool::FrameAction::forward;
  }
  pool::Injections* injections() { return &injections_; }
};

// Forwards everything and yields before any read once `yield` is set.
struct YieldingInspector {
  bool yield = true;
  std::vector<char> seen;
  bool needs_whole(char) const { return false; }
  pool::FrameAction on_frame(char type, proto::Bytes) {
    seen.push_back(type);
    return pool::FrameAction::forward;
  }
  pool::Injections* injections() { return nullptr; }
  bool yield_before_read() const { return yield; }
};

}  // namespace

TEST_CASE("pump: injected bytes go out in one write with the messages around them", "[pool][pump]") {
  Fixture f;
  const std::string bind = message('B', "client-bind");
  const std::string execute = message('E', std::string("\0\0\0\0\0", 5));
  const std::string sync = message('S', "");
  f.client_sends(bind + execute + bind + execute + sync);
  RenamingInspector inspector;
  const auto h = f.run_pump(inspector);
  REQUIRE(h.done);
  CHECK(h.result.end == pool::PumpEnd::stopped);
  const auto records = f.server_records();
  REQUIRE(records.size() == 1);  // one write for all five messages
  CHECK(records[0] == message('B', "renamed1") + execute + message('B', "renamed3") + execute + sync);
  CHECK(inspector.injections_.forward.empty());
}

TEST_CASE("pump: more injections than segments still go out whole and in order", "[pool][pump]") {
  Fixture f;
  const std::string bind = message('B', "b");
  const std::string execute = message('E', std::string("\0\0\0\0\0", 5));
  std::string batch;
  std::string expected;
  RenamingInspector inspector;
  for (int i = 0; i < 40; ++i) {
    batch += bind + execute;
    expected += message('B', "renamed" + std::to_string(2 * i + 1)) + execute;
  }
  batch += message('S', "");
  expected += message('S', "");
  f.client_sends(batch);
  const auto h = f.run_pump(inspector);
  REQUIRE(h.done);
  std::string received;
  for (const auto& r : f.server_records()) received += r;
  CHECK(received == expected);
}

TEST_CASE("pump: yield_before_read ends the pump instead of reading", "[pool][pump]") {
  Fixture f;
  YieldingInspector inspector;
  SECTION("nothing buffered: it ends at once") {
    const auto h = f.run_pump(inspector);
    REQUIRE(h.done);
    CHECK(h.result.end == pool::PumpEnd::yielded);
    CHECK(h.state.reads == 0);
  }
  SECTION("buffered messages are forwarded first, then it ends") {
    f.client_sends(message('Q', std::string("select 1\0", 9)));
    // Reads once, then is told to yield before the next read.
    struct OnceThenYield : YieldingInspector {
      bool yield_before_read() const { return !seen.empty(); }
    } once;
    const auto h = f.run_pump(once);
    REQUIRE(h.done);
    CHECK(h.result.end == pool::PumpEnd::yielded);
    CHECK(h.state.reads == 1);
    CHECK(once.seen == std::vector<char>{'Q'});
    const auto records = f.server_records();
    REQUIRE(records.size() == 1);
    CHECK(records[0] == message('Q', std::string("select 1\0", 9)));
  }
}
