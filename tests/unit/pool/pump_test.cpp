// pump: injected bytes share the write of the messages around them; yield_before_read ends it unread.
#include "pool/pump.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <optional>
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

  void client_sends(const std::string& bytes) { send_from(client_fd_, bytes); }
  void server_sends(const std::string& bytes) { send_from(server_fd_, bytes); }
  // The records the server end received, one per write of the pump.
  std::vector<std::string> server_records() { return records_at(server_fd_); }
  std::vector<std::string> client_records() { return records_at(client_fd_); }

  PumpOutcome run_pump(auto& inspector) {
    PumpOutcome h;
    const proto::FrameRules rules{proto::Direction::frontend, proto::states::frontend_ready,
                                  proto::default_max_message_length};
    pool::PumpScratch scratch;
    const auto result =
        run_to_end(pool::pump(*client_, *server_, rules, inspector, h.state, scratch));
    h.done = result.has_value();
    if (result) h.result = *result;
    return h;
  }

  // What the awaitable yields, once the io_context ran it to its end.
  template <class T>
  std::optional<T> run_to_end(asio::awaitable<T> awaitable) {
    std::optional<T> out;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out = co_await std::move(awaitable); }, asio::detached);
    io.run_for(std::chrono::seconds(5));
    io.restart();
    return out;
  }

 private:
  static void send_from(int fd, const std::string& bytes) {
    REQUIRE(::send(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  }
  static std::vector<std::string> records_at(int fd) {
    std::vector<std::string> out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return out;
      out.emplace_back(buf, static_cast<std::size_t>(n));
    }
  }

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

namespace {

// A request and its reply, as a unit's turns: client to server, then server
// to client, each turn ending (yielded) once it forwarded something.
struct RequestThenReply {
  struct Result {
    std::vector<pool::PumpResult> ends;
    std::vector<std::pair<std::size_t, char>> seen;  // (turn, message type)
    std::array<std::uint64_t, 2> reads{};
  };
  net::Connection& client;
  net::Connection& server;
  const proto::FrameRules& client_rules;
  const proto::FrameRules& server_rules;
  pool::PumpScratch& segment_list;
  std::size_t turn = 0;
  std::array<pool::PumpState, 2> states{};
  Result out{};

  bool begin_turn() const { return turn < 2; }
  net::Connection& source() { return turn == 0 ? client : server; }
  net::Connection& sink() { return turn == 0 ? server : client; }
  const proto::FrameRules& rules() const { return turn == 0 ? client_rules : server_rules; }
  RequestThenReply& inspector() { return *this; }
  pool::PumpState& state() { return states[turn]; }
  pool::PumpScratch& scratch() { return segment_list; }
  void end_turn(const pool::PumpResult& r) {
    out.ends.push_back(r);
    out.reads[turn] = states[turn].reads;
    ++turn;
  }
  Result result() const { return out; }

  bool needs_whole(char) const { return false; }
  pool::FrameAction on_frame(char type, proto::Bytes) {
    out.seen.emplace_back(turn, type);
    return pool::FrameAction::forward;
  }
  pool::Injections* injections() { return nullptr; }
  bool yield_before_read() const { return !out.seen.empty() && out.seen.back().first == turn; }
};

}  // namespace

TEST_CASE("pump_turns: turns run one after the other, each with its own ends and state",
          "[pool][pump]") {
  Fixture f;
  const proto::FrameRules client_rules{proto::Direction::frontend, proto::states::frontend_ready,
                                       proto::default_max_message_length};
  const proto::FrameRules server_rules{proto::Direction::backend, proto::states::backend_ready,
                                       proto::default_max_message_length};
  const std::string query = message('Q', std::string("select 1\0", 9));
  const std::string ready = message('Z', "I");
  f.client_sends(query);
  f.server_sends(ready);
  pool::PumpScratch scratch;
  RequestThenReply turns{f.client(), f.server(), client_rules, server_rules, scratch, 0, {}, {}};
  const auto out = f.run_to_end(pool::pump_turns(turns));
  REQUIRE(out.has_value());
  REQUIRE(out->ends.size() == 2);
  CHECK(out->ends[0].end == pool::PumpEnd::yielded);
  CHECK(out->ends[1].end == pool::PumpEnd::yielded);
  using Seen = std::vector<std::pair<std::size_t, char>>;
  CHECK(out->seen == Seen{{0, 'Q'}, {1, 'Z'}});
  CHECK(out->reads == std::array<std::uint64_t, 2>{1, 1});  // each turn read its own source once
  CHECK(f.server_records() == std::vector<std::string>{query});
  CHECK(f.client_records() == std::vector<std::string>{ready});
}
