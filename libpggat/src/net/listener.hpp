// Listener: a bound TCP or unix-socket acceptor feeding new sockets to a callback.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/basic_socket_acceptor.hpp>

#include "net/address.hpp"
#include "net/stream.hpp"
#include "pggat/expected.hpp"
#include "pggat/server.hpp"

namespace pggat::net {

class Listener {
 public:
  using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

  // Binds now, so that errors surface before anything is served. The error
  // text names the address and the reason.
  [[nodiscard]] static Expected<std::unique_ptr<Listener>, std::string> bind(
      const asio::any_io_executor& executor, const ListenerOptions& options);
  ~Listener();

  using Peer = asio::generic::stream_protocol::endpoint;
  // Accepts until close(); each socket goes to on_accept with its peer's
  // address (from accept itself: no getpeername per client), registered
  // with the executor next_executor() gave for it.
  asio::awaitable<void> run(std::function<IoExecutor()> next_executor,
                            std::function<void(Socket, const Peer&)> on_accept);
  // Stops accepting and removes a unix socket file.
  void close();

  [[nodiscard]] const ListenerOptions& options() const { return options_; }
  [[nodiscard]] const std::string& bound_address() const { return bound_address_; }
  [[nodiscard]] bool is_unix() const { return address_.is_unix(); }

 private:
  Listener(Acceptor acceptor, ListenerOptions options, Address address, std::string bound);

  Acceptor acceptor_;
  ListenerOptions options_;
  Address address_;
  std::string bound_address_;
  bool unlink_on_close_ = false;
};

}  // namespace pggat::net
