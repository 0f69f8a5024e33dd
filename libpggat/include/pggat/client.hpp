// A client connection as routes see it: who it claims to be, and where it came from.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <asio/awaitable.hpp>

#include "pggat/backend_key.hpp"
#include "pggat/credentials.hpp"
#include "pggat/export.hpp"
#include "pggat/parameters.hpp"
#include "pggat/pg_error.hpp"

namespace pggat {

namespace detail {
class ClientSession;
}

// Handlers may rewrite user, database and parameters (rewrite_* handlers do);
// later handlers and the pool see the rewritten values.
class PGGAT_API Client {
 public:
  explicit Client(detail::ClientSession& session) : session_(&session) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  std::string user;
  std::string database;
  // Startup parameters other than user and database; `options -c k=v` entries
  // are expanded into here, `options` itself is not kept.
  Parameters parameters;
  // What the client must prove before a pool serves it; null: trust.
  // rewrite_password sets it.
  std::shared_ptr<const Credentials> credentials;

  // Facts about the connection, fixed at accept.
  [[nodiscard]] std::uint64_t id() const;
  [[nodiscard]] bool ssl() const;  // the client connected with TLS
  // On TLS connections, RFC 5929 tls-server-end-point channel-binding data of
  // pggat's certificate (what SCRAM-SHA-256-PLUS binds to); empty otherwise.
  [[nodiscard]] std::span<const std::uint8_t> tls_server_end_point() const;
  [[nodiscard]] bool is_unix_socket() const;
  [[nodiscard]] const std::string& local_address() const;   // listener's bound address
  [[nodiscard]] const std::string& remote_address() const;  // peer, or "[local]"
  [[nodiscard]] BackendKey backend_key() const;             // pggat's key, never a server's

  // Sends an ErrorResponse (or NoticeResponse when severity is a notice level).
  asio::awaitable<std::error_code> send_error(const PgError& error);

  // The internal connection behind this client; for pggat's own handlers.
  [[nodiscard]] detail::ClientSession& session() const { return *session_; }

 private:
  detail::ClientSession* session_;
};

}  // namespace pggat
