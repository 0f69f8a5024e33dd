// ServerConnection: one logged-in connection to a PostgreSQL server, and how to dial it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>

#include "auth/scram_secret.hpp"
#include "net/address.hpp"
#include "net/connection.hpp"
#include "pggat/backend_key.hpp"
#include "pggat/expected.hpp"
#include "pggat/parameters.hpp"
#include "pggat/pg_error.hpp"
#include "pggat/proto/frame.hpp"
#include "pggat/proto/message_types.hpp"
#include "pggat/recipe.hpp"
#include "proto/conversation.hpp"

namespace pggat::backend {

// How a server's messages are framed once it is ready: any backend message,
// up to PostgreSQL's own length limit.
inline constexpr proto::FrameRules server_frame_rules{
    proto::Direction::backend, proto::states::backend_ready, proto::default_max_message_length};

struct DialOptions {
  net::Address address;
  std::string username;
  std::string password;  // plaintext, "md5..." hash, SCRAM secret, or empty
  // With a SCRAM secret as password: ClientKey and ServerKey recovered from a
  // client that proved that secret (SCRAM pass-through).
  std::optional<auth::ScramKeys> scram_keys{};
  std::string database;
  Parameters parameters;  // extra startup parameters
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(15);
  // TLS as libpq's sslmode; never over unix sockets (as libpq). Modes other
  // than disable need `tls`.
  SslMode ssl_mode = SslMode::disable;
  std::shared_ptr<net::TlsClientContext> tls{};
};

struct DialError {
  // "could not connect to server at "127.0.0.1:5432": Connection refused"
  std::string message;
  // What the server said, when it refused us with an ErrorResponse.
  std::optional<PgError> server_error;
};

class ServerConnection {
 public:
  ServerConnection(net::Socket socket, net::Address address, std::uint64_t id);

  net::Connection conn;
  const net::Address address;
  const std::uint64_t id;
  Parameters parameters;      // ParameterStatus values as last reported
  BackendKey key;             // the server's own, for cancel requests
  proto::Conversation state;  // where the exchange with the current client stands
  // Set when a relay stopped in the middle of a message: the byte stream can no
  // longer be parsed, the connection must be closed.
  bool torn = false;
  // Counted up when a ParameterStatus changes a value in `parameters`: its
  // pool's ServerPool::changes() (null outside a pool).
  std::shared_ptr<std::atomic<std::uint64_t>> parameter_changes;

  // Records what passes by from the server: parameters and conversation state.
  void observe_server_message(char type, proto::Bytes body);

  void close() { conn.stream.close(); }
};

// Connects, negotiates TLS as options.ssl_mode says, starts up and
// authenticates (cleartext, MD5, SCRAM-SHA-256). Each attempt (allow makes a
// second, with TLS, when the server refuses the plain one) is bounded by
// options.connect_timeout.
[[nodiscard]] asio::awaitable<Expected<std::unique_ptr<ServerConnection>, DialError>> dial(
    const DialOptions& options, std::uint64_t id);

// Sends a CancelRequest for `key` to the server at `address` over a new
// plain connection, as PostgreSQL requires and accepts whatever the server's
// TLS settings (it is not subject to pg_hba.conf; libpq up to 16 does the
// same). Best effort: errors are ignored. Takes
// its arguments by value: it runs detached, after its caller has returned.
asio::awaitable<void> send_cancel(net::Address address, BackendKey key,
                                  std::chrono::nanoseconds timeout);

}  // namespace pggat::backend
