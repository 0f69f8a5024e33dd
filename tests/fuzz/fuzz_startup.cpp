// libFuzzer target: a client's startup phase, through the coroutine the pooler runs.
//
// The input is what a client sends before it is routed: SSLRequest,
// GSSENCRequest, CancelRequest, StartupMessage, garbage. It is written into
// one end of a socket pair, the write side is shut (so a short input ends in
// EOF, never in a wait), and frontend::read_startup reads the other end
// exactly as App does for a real client, answering 'N' or a FATAL error.
// The bare decoders and apply_options get the same bytes.
#include <sys/socket.h>
#include <unistd.h>

// C++ headers before Asio's: Asio 1.22 picks aligned_alloc or operator new
// for its handler memory from a libstdc++ macro (_GLIBCXX_HAVE_ALIGNED_ALLOC)
// that is defined only once a C++ header was included. A unit that includes
// Asio first frees with operator delete what the others allocated with
// aligned_alloc: ASan reports alloc-dealloc-mismatch.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/io_context.hpp>

#include "frontend/startup.hpp"
#include "fuzz_support.hpp"
#include "net/connection.hpp"
#include "pggat/proto/startup.hpp"

namespace {

using namespace pggat;
using pggat::fuzz::require;

void decode_directly(proto::Bytes data) {
  const proto::StartupResult r = proto::decode_startup(data);
  if (r.status != proto::DecodeStatus::ok) return;
  require(r.consumed >= 8 && r.consumed <= data.size(), "a startup packet beyond the input");
  switch (r.frame.kind) {
    case proto::StartupKind::ssl_request:
      require(proto::SSLRequest::decode(r.frame).has_value(), "an SSLRequest that does not decode");
      break;
    case proto::StartupKind::gssenc_request:
      require(proto::GSSENCRequest::decode(r.frame).has_value(),
              "a GSSENCRequest that does not decode");
      break;
    case proto::StartupKind::cancel_request:
      require(proto::CancelRequest::decode(r.frame).has_value(),
              "a CancelRequest that does not decode");
      break;
    case proto::StartupKind::startup_message:
      if (const auto m = proto::StartupMessage::decode(r.frame)) {
        std::size_t n = 0;
        for (const auto& p : m->parameters) {
          (void)p;
          ++n;
        }
        require(n == m->parameters.size(), "startup parameters iterate to another count");
        if (const auto options = m->find("options")) {
          Parameters params;
          (void)frontend::apply_options(*options, params);
        }
        proto::Buffer out;
        m->encode(out);
        const proto::StartupResult again = proto::decode_startup(out);
        require(again.status == proto::DecodeStatus::ok &&
                    proto::StartupMessage::decode(again.frame).has_value(),
                "a StartupMessage does not decode after encoding");
      }
      break;
  }
}

// A socket pair whose pggat end is an asio socket; the client end is a plain fd.
struct SocketPair {
  int client = -1;
  std::optional<net::Socket> server;
  explicit SocketPair(asio::io_context& io) {
    int fds[2];
    require(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, "socketpair failed");
    client = fds[1];
    server.emplace(io, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), fds[0]);
  }
  ~SocketPair() { ::close(client); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const proto::Bytes bytes(reinterpret_cast<const std::byte*>(data), size);
  decode_directly(bytes);

  asio::io_context io;
  SocketPair pair(io);
  // libFuzzer's inputs are small (-max_len); the socket buffer takes them whole.
  std::size_t sent = 0;
  while (sent < size) {
    const ssize_t n = ::send(pair.client, data + sent, size - sent, MSG_NOSIGNAL);
    require(n > 0, "could not write the input to the socket pair");
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(pair.client, SHUT_WR);

  net::Connection conn(std::move(*pair.server));
  std::optional<frontend::StartupOutcome> outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        outcome = co_await frontend::read_startup(conn);
      },
      asio::detached);
  io.run();
  require(outcome.has_value(), "read_startup did not finish");
  if (const auto* request = std::get_if<frontend::StartupRequest>(&*outcome))
    require(!request->user.empty() && !request->database.empty(), "a startup without a user");
  return 0;
}
