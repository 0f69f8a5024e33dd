// Server: a set of listeners and the ordered routes their clients go through (pggat's `servers[]`).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pggat/export.hpp"
#include "pggat/proto/message_types.hpp"
#include "pggat/route.hpp"

namespace pggat {

// TLS for the clients of one listener (pggat's listener `ssl` object).
struct ListenerTls {
  enum class Provider {
    self_signed,    // a key and certificate generated when the listener starts
    x509_key_pair,  // PEM files: cert_file (the chain, leaf first) and key_file
  };
  // Whether clients must present a certificate signed by client_ca_file.
  enum class ClientCert {
    none,      // not asked for
    optional,  // asked for; one that does not verify ends the handshake, none is fine
    require,   // asked for and must verify
  };
  Provider provider = Provider::self_signed;
  // self_signed: subject alternative names, DNS names or IP addresses.
  std::vector<std::string> sans{"localhost", "127.0.0.1", "::1"};
  std::string cert_file{};
  std::string key_file{};
  std::string client_ca_file{};  // PEM CA certificates that sign client certificates
  ClientCert client_cert = ClientCert::none;
  bool operator==(const ListenerTls&) const = default;
};

struct ListenerOptions {
  // "host:port", "[::1]:port", or a unix socket directory "/dir" (socket
  // /dir/.s.PGSQL.5432), "/dir:6432", or a full "/dir/.s.PGSQL.6432" path.
  std::string address{};
  // Clients beyond this many get FATAL 53300; 0 means no limit.
  std::uint32_t max_connections = 0;
  // A client must finish its startup packet within this time.
  std::chrono::nanoseconds startup_timeout = std::chrono::seconds(15);
  // Cap on the length of one client message (PostgreSQL's own cap by default).
  std::uint32_t max_message_size = proto::default_max_message_length;
  // Permissions of a unix socket file (PostgreSQL's unix_socket_permissions).
  std::uint32_t unix_socket_mode = 0777;
  // TLS for clients that ask for it (SSLRequest); without it they get 'N'.
  std::optional<ListenerTls> ssl{};
  // SO_REUSEPORT (TCP): another process, a newer pggat, may listen on the
  // same port at the same time and take over while this one drains.
  bool reuse_port = false;
  bool operator==(const ListenerOptions&) const = default;
};

class PGGAT_API Server {
 public:
  void add_listener(ListenerOptions listener) { listeners_.push_back(std::move(listener)); }
  void add_route(Route route) { routes_.push_back(std::move(route)); }

  [[nodiscard]] const std::vector<ListenerOptions>& listeners() const { return listeners_; }
  [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<ListenerOptions> listeners_{};
  std::vector<Route> routes_{};
};

}  // namespace pggat
