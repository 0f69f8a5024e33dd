// Binding listeners (TCP, unix sockets) and the accept loop.
#include "net/listener.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <filesystem>
#include <optional>

#if PGGAT_AWAIT_DIRECTLY
#include "net/direct_await_impl.hpp"
#endif

namespace pggat::net {
namespace {

std::string describe(const std::error_code& ec) { return ec.message(); }

// A socket file left behind by a dead process is removed; one that still
// answers belongs to a live server, and binding over it would steal its clients.
std::optional<std::string> clear_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  if (!S_ISSOCK(st.st_mode)) return "\"" + path + "\" exists and is not a socket";
  asio::io_context probe_io;
  asio::local::stream_protocol::socket probe(probe_io);
  std::error_code ec;
  probe.connect(asio::local::stream_protocol::endpoint(path), ec);
  if (!ec) return "another server is already listening on \"" + path + "\"";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return "cannot remove stale socket \"" + path + "\": " + std::strerror(errno);
  return std::nullopt;
}

// What an accept gave: the socket when there was no error.
struct Accepted {
  std::error_code ec;
  std::optional<Socket> socket;
  Accepted() = default;
  Accepted(std::error_code e, Socket s) : ec(e), socket(std::move(s)) {}
};

#if PGGAT_AWAIT_DIRECTLY
void set_aborted(Accepted& accepted) { accepted.ec = asio::error::operation_aborted; }

// `co_await AcceptInto{...}`: an accept whose completion resumes the accept
// loop itself (net/direct_await.hpp), once per client, without the frame,
// handler and dispatch of a use_awaitable accept.
struct AcceptInto {
  Listener::Acceptor& acceptor;
  IoExecutor executor;  // of the thread that will serve the client
  Listener::Peer& peer;
  Accepted& out;

  AwaitingThread* operator()(AwaitingFrame* frame) const {
    return detail_direct::await_directly(frame, acceptor.get_executor(), &out, [this](auto handler) {
      acceptor.async_accept(executor, peer, std::move(handler));
    });
  }
};
#endif

}  // namespace

Listener::Listener(Acceptor acceptor, ListenerOptions options, Address address, std::string bound)
    : acceptor_(std::move(acceptor)),
      options_(std::move(options)),
      address_(std::move(address)),
      bound_address_(std::move(bound)),
      unlink_on_close_(address_.is_unix()) {}

Listener::~Listener() { close(); }

Expected<std::unique_ptr<Listener>, std::string> Listener::bind(
    const asio::any_io_executor& executor, const ListenerOptions& options) {
  auto parsed = parse_address(options.address);
  if (!parsed) return Unexpected("listen address \"" + options.address + "\": " + parsed.error());
  Address address = *parsed;
  Acceptor acceptor(executor);
  std::error_code ec;
  const std::string where = "cannot listen on \"" + options.address + "\": ";

  if (address.is_unix()) {
    const std::filesystem::path dir = address.directory();
    std::filesystem::create_directories(dir, ec);
    if (ec) return Unexpected(where + "cannot create directory \"" + dir.string() + "\": " + describe(ec));
    if (auto problem = clear_stale_socket(address.path)) return Unexpected(where + *problem);
    asio::local::stream_protocol::endpoint local(address.path);
    asio::generic::stream_protocol::endpoint ep(local);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Unexpected(where + describe(ec));
    if (::chmod(address.path.c_str(), static_cast<mode_t>(options.unix_socket_mode)) != 0)
      return Unexpected(where + "chmod: " + std::strerror(errno));
    return std::unique_ptr<Listener>(
        new Listener(std::move(acceptor), options, address, address.path));
  }

  asio::ip::tcp::endpoint tcp_ep;
  const std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    // A host name: resolve it synchronously, this runs once at start.
    asio::io_context resolve_io;
    asio::ip::tcp::resolver resolver(resolve_io);
    auto results = resolver.resolve(host, std::to_string(address.port), ec);
    if (ec || results.empty())
      return Unexpected(where + "cannot resolve \"" + host + "\": " + describe(ec));
    tcp_ep = results.begin()->endpoint();
  } else {
    tcp_ep = asio::ip::tcp::endpoint(ip, address.port);
  }
  asio::generic::stream_protocol::endpoint ep(tcp_ep);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && options.reuse_port) {
    const int on = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
      return Unexpected(where + "SO_REUSEPORT: " + std::strerror(errno));
  }
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unexpected(where + describe(ec));
  const auto local = acceptor.local_endpoint(ec);
  if (ec) return Unexpected(where + describe(ec));
  return std::unique_ptr<Listener>(
      new Listener(std::move(acceptor), options, address, endpoint_to_string(local)));
}

asio::awaitable<void> Listener::run(std::function<IoExecutor()> next_executor,
                                    std::function<void(Socket, const Peer&)> on_accept) {
  asio::steady_timer backoff(co_await asio::this_coro::executor);
  Peer peer;
  while (acceptor_.is_open()) {
    // Accepted straight into the io_context of the thread that will serve it.
#if PGGAT_AWAIT_DIRECTLY
    Accepted accepted;
    co_await AcceptInto{acceptor_, next_executor(), peer, accepted};
#else
    auto [accept_ec, accepted_socket] = co_await acceptor_.async_accept(next_executor(), peer, use_nothrow);
    Accepted accepted(accept_ec, std::move(accepted_socket));
#endif
    const std::error_code ec = accepted.ec;
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      // Out of file descriptors and the like: pause instead of spinning.
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(use_nothrow);
      continue;
    }
    if (!address_.is_unix()) {
      std::error_code ignored;
      accepted.socket->set_option(asio::ip::tcp::no_delay(true), ignored);
    }
    on_accept(std::move(*accepted.socket), peer);
  }
}

void Listener::close() {
  std::error_code ignored;
  if (acceptor_.is_open()) acceptor_.close(ignored);
  if (unlink_on_close_) {
    unlink_on_close_ = false;
    ::unlink(address_.path.c_str());
  }
}

}  // namespace pggat::net
