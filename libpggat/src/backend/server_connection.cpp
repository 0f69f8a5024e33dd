// Dialing PostgreSQL servers: connect, startup, authentication, parameters, key data.
#include "backend/server_connection.hpp"

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/this_coro.hpp>

#include "auth/md5.hpp"
#include "auth/scram_client.hpp"
#include "net/deadline.hpp"
#include "net/tls.hpp"
#include "pggat/error.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "pggat/proto/startup.hpp"
#include "pggat/proto/writer.hpp"

namespace pggat::backend {
namespace {

using proto::be::AuthCode;

const proto::FrameRules startup_rules{proto::Direction::backend, proto::states::backend_startup,
                                      proto::default_max_message_length};

std::string where(const net::Address& a) {
  return a.is_unix() ? "server on socket \"" + a.path + "\"" : "server at \"" + a.to_string() + "\"";
}

DialError failure(const net::Address& a, const std::string& reason) {
  return DialError{"could not connect to " + where(a) + ": " + reason, std::nullopt};
}

asio::awaitable<std::error_code> connect_socket(net::Socket& socket, const net::Address& address) {
  if (address.is_unix()) {
    asio::generic::stream_protocol::endpoint ep{asio::local::stream_protocol::endpoint(address.path)};
    auto [ec] = co_await socket.async_connect(ep, net::use_nothrow);
    co_return ec;
  }
  asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
  auto [rec, results] = co_await resolver.async_resolve(address.host, std::to_string(address.port),
                                                        net::use_nothrow);
  if (rec) co_return rec;
  std::error_code last = asio::error::host_not_found;
  for (const auto& entry : results) {
    asio::generic::stream_protocol::endpoint ep(entry.endpoint());
    std::error_code ignored;
    if (socket.is_open()) socket.close(ignored);
    auto [ec] = co_await socket.async_connect(ep, net::use_nothrow);
    if (!ec) {
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      co_return std::error_code{};
    }
    last = ec;
  }
  co_return last;
}

// Answers one authentication request; returns an error text on failure.
class Authenticator {
 public:
  explicit Authenticator(const DialOptions& o) : options_(o) {}

  // Appends the response to `out`; nullopt means "nothing to send" (AuthenticationOk).
  std::optional<std::string> respond(proto::Bytes body, proto::Buffer& out) {
    const auto code = proto::be::auth_code(body);
    if (!code) return std::string("malformed authentication request");
    switch (*code) {
      case AuthCode::ok:
        done_ = true;
        return std::nullopt;
      case AuthCode::cleartext_password:
        if (options_.password.empty() || auth::is_md5_hash(options_.password) || auth::is_scram_secret(options_.password))
          return std::string("server asked for a cleartext password, and the recipe has ") +
                 (options_.password.empty() ? "none"
                  : auth::is_md5_hash(options_.password) ? "only an MD5 hash"
                                                          : "only a SCRAM secret");
        proto::fe::PasswordMessage{options_.password}.encode(out);
        return std::nullopt;
      case AuthCode::md5_password: {
        const auto req = proto::be::AuthenticationMD5Password::decode(body);
        if (!req) return std::string("malformed MD5 authentication request");
        if (options_.password.empty()) return std::string("server asked for a password, and the recipe has none");
        if (auth::is_scram_secret(options_.password))
          return std::string("server asked for an MD5 password, and the recipe has only a SCRAM secret");
        auth::Md5Salt salt;
        for (std::size_t i = 0; i < salt.size(); ++i) salt[i] = std::to_integer<std::uint8_t>(req->salt[i]);
        const auto response = auth::md5_client_response(options_.username, options_.password, salt);
        if (!response) return std::string("MD5 is not available in this OpenSSL build");
        proto::fe::PasswordMessage{*response}.encode(out);
        return std::nullopt;
      }
      case AuthCode::sasl: {
        const auto req = proto::be::AuthenticationSASL::decode(body);
        if (!req) return std::string("malformed SASL authentication request");
        bool offered = false;
        for (std::string_view m : req->mechanisms) offered = offered || m == "SCRAM-SHA-256";
        if (!offered) return std::string("server offered no SASL mechanism pggat supports (needs SCRAM-SHA-256)");
        if (options_.password.empty() || auth::is_md5_hash(options_.password))
          return std::string("server asked for SCRAM authentication, and the recipe has ") +
                 (options_.password.empty() ? "no password" : "only an MD5 hash");
        if (auth::is_scram_secret(options_.password)) {
          if (!options_.scram_keys)
            return std::string(
                "the recipe's password is a SCRAM secret, and no client has proved it yet "
                "(SCRAM pass-through logs in with the keys of a client that did)");
          scram_.emplace(*options_.scram_keys);
        } else {
          scram_.emplace(options_.password);
        }
        auto first = scram_->client_first();
        if (!first) return first.error().message;
        proto::fe::SASLInitialResponse{"SCRAM-SHA-256", proto::as_bytes(*first)}.encode(out);
        return std::nullopt;
      }
      case AuthCode::sasl_continue: {
        const auto req = proto::be::AuthenticationSASLContinue::decode(body);
        if (!req || !scram_) return std::string("unexpected SASL continuation");
        if (auto st = scram_->handle_server_first(proto::as_string_view(req->data)); !st)
          return st.error().message;
        auto final_msg = scram_->client_final();
        if (!final_msg) return final_msg.error().message;
        proto::fe::SASLResponse{proto::as_bytes(*final_msg)}.encode(out);
        return std::nullopt;
      }
      case AuthCode::sasl_final: {
        const auto req = proto::be::AuthenticationSASLFinal::decode(body);
        if (!req || !scram_) return std::string("unexpected SASL final message");
        if (auto st = scram_->verify_server_final(proto::as_string_view(req->data)); !st)
          return "server's SCRAM signature did not verify: " + st.error().message;
        return std::nullopt;
      }
      default:
        return "server asked for an authentication method pggat does not support (code " +
               std::to_string(static_cast<int>(*code)) + ")";
    }
  }

 private:
  const DialOptions& options_;
  std::optional<auth::ScramClient> scram_;
  bool done_ = false;
};

const char* mode_name(SslMode mode) {
  switch (mode) {
    case SslMode::disable: return "disable";
    case SslMode::allow: return "allow";
    case SslMode::prefer: return "prefer";
    case SslMode::require: return "require";
    case SslMode::verify_ca: return "verify-ca";
    case SslMode::verify_full: return "verify-full";
  }
  return "?";
}

// SSLRequest, then the handshake if the server says 'S'. Returns an error
// text, or nullopt: TLS is on, or the server said 'N' and `required` is false.
asio::awaitable<std::optional<std::string>> negotiate_tls(net::Connection& conn, const DialOptions& options,
                                                          bool required) {
  if (!options.tls) co_return std::string("ssl_mode needs a TLS context (internal error)");
  proto::SSLRequest{}.encode(conn.out);
  if (auto ec = co_await net::flush(conn)) co_return ec.message();
  // Exactly one byte: what follows 'S' is the server's TLS, not ours to read.
  char answer = 0;
  auto [ec, n] = co_await conn.stream.read_some(asio::buffer(&answer, 1));
  if (ec || n == 0) co_return ec ? ec.message() : std::string("server closed the connection");
  if (answer == 'N') {
    if (required)
      co_return std::string("server does not support TLS, and ssl_mode is ") + mode_name(options.ssl_mode);
    co_return std::nullopt;
  }
  if (answer != 'S')
    co_return "server answered the SSLRequest with '" + std::string(1, answer) +
              "' (a server from before PostgreSQL 7.2?)";
  std::string why;
  const auto handshake_ec = co_await conn.stream.start_tls_client(options.tls, options.address.host, &why);
  if (handshake_ec) co_return "TLS handshake failed (ssl_mode " + std::string(mode_name(options.ssl_mode)) + "): " + why;
  co_return std::nullopt;
}

asio::awaitable<Expected<std::unique_ptr<ServerConnection>, DialError>> dial_unbounded(
    const DialOptions& options, std::uint64_t id, bool try_tls) {
  net::Socket socket(net::io_executor(co_await asio::this_coro::executor));
  if (auto ec = co_await connect_socket(socket, options.address))
    co_return Unexpected(failure(options.address, ec.message()));

  auto server = std::make_unique<ServerConnection>(std::move(socket), options.address, id);
  net::Connection& conn = server->conn;
  if (try_tls) {
    const bool required = options.ssl_mode != SslMode::prefer && options.ssl_mode != SslMode::allow;
    if (auto problem = co_await negotiate_tls(conn, options, required))
      co_return Unexpected(failure(options.address, *problem));
  }

  std::vector<std::pair<std::string_view, std::string_view>> params;
  params.emplace_back("user", options.username);
  params.emplace_back("database", options.database);
  for (const auto& [name, value] : options.parameters) params.emplace_back(name, value);
  proto::StartupMessage::encode(conn.out, params);
  if (auto ec = co_await net::flush(conn)) co_return Unexpected(failure(options.address, ec.message()));

  Authenticator authenticator(options);
  for (;;) {
    net::ReadFrameResult r = co_await net::read_frame(conn, startup_rules);
    if (r.ec) {
      if (r.ec == errc::protocol_violation)
        co_return Unexpected(failure(options.address, "protocol error during startup: " +
                                                          proto::describe(r.frame_error, proto::Direction::backend, r.header)));
      co_return Unexpected(failure(options.address, r.ec == errc::connection_closed
                                                        ? "server closed the connection during startup"
                                                        : r.ec.message()));
    }
    const proto::Frame f = r.frame;
    switch (f.type) {
      case 'R': {
        if (auto problem = authenticator.respond(f.body, conn.out))
          co_return Unexpected(failure(options.address, "authentication failed: " + *problem));
        conn.in.consume(f.total_size());
        if (auto ec = co_await net::flush(conn))
          co_return Unexpected(failure(options.address, ec.message()));
        continue;
      }
      case 'E': {
        const auto err = proto::be::ErrorResponse::decode(f.body);
        PgError pg = err ? err->to_pg_error() : PgError::fatal(sqlstate::internal_error, "malformed error");
        DialError e = failure(options.address, pg.message + " (SQLSTATE " + pg.code + ")");
        e.server_error = std::move(pg);
        co_return Unexpected(std::move(e));
      }
      case 'K': {
        const auto k = proto::be::BackendKeyData::decode(f.body);
        if (!k) co_return Unexpected(failure(options.address, "malformed BackendKeyData"));
        server->key = BackendKey{static_cast<std::uint32_t>(k->process_id),
                                 static_cast<std::uint32_t>(k->secret_key)};
        break;
      }
      case 'Z':
        conn.in.consume(f.total_size());
        co_return std::move(server);
      default:
        // ParameterStatus, NoticeResponse, NegotiateProtocolVersion.
        server->observe_server_message(f.type, f.body);
        break;
    }
    conn.in.consume(f.total_size());
  }
}

}  // namespace

ServerConnection::ServerConnection(net::Socket socket, net::Address a, std::uint64_t server_id)
    : conn(std::move(socket)), address(std::move(a)), id(server_id) {
  // A server answers what it is sent and closes whole (Stream::set_drained_reads).
  conn.stream.set_drained_reads(net::Stream::DrainedReads::server);
}

void ServerConnection::observe_server_message(char type, proto::Bytes body) {
  if (type == 'S') {
    if (const auto ps = proto::be::ParameterStatus::decode(body)) {
      const std::string* before = parameters.find(ps->name);
      if (parameter_changes && (before == nullptr || *before != ps->value))
        parameter_changes->fetch_add(1, std::memory_order_release);
      parameters.set(ps->name, ps->value);
    }
  }
  if (type == 'Z')
    conn.stream.peer_waits();
  else if (type == 'E')
    conn.stream.peer_may_close();
  state.on_server(type, body);
}

asio::awaitable<Expected<std::unique_ptr<ServerConnection>, DialError>> dial(
    const DialOptions& options, std::uint64_t id) {
  // libpq never uses TLS over unix sockets, whatever sslmode says.
  const bool tcp = !options.address.is_unix();
  const bool tls_first = tcp && options.ssl_mode != SslMode::disable && options.ssl_mode != SslMode::allow;
  auto attempt = [&](bool try_tls) -> asio::awaitable<Expected<std::unique_ptr<ServerConnection>, DialError>> {
    auto result = co_await net::with_timeout(dial_unbounded(options, id, try_tls), options.connect_timeout);
    if (!result)
      co_return Unexpected(failure(options.address, "timed out after " +
                                                        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(options.connect_timeout).count()) +
                                                        "ms"));
    co_return std::move(*result);
  };
  auto result = co_await attempt(tls_first);
  // allow: the server refused the plain connection (pg_hba.conf hostssl, say); try TLS.
  if (!result && tcp && options.ssl_mode == SslMode::allow && result.error().server_error)
    result = co_await attempt(true);
  co_return result;
}

asio::awaitable<void> send_cancel(net::Address address, BackendKey key,
                                  std::chrono::nanoseconds timeout) {
  auto attempt = [&]() -> asio::awaitable<bool> {
    net::Socket socket(net::io_executor(co_await asio::this_coro::executor));
    const auto connect_ec = co_await connect_socket(socket, address);
    if (connect_ec) co_return false;
    proto::Buffer out;
    proto::CancelRequest{static_cast<std::int32_t>(key.process_id), static_cast<std::int32_t>(key.secret_key)}.encode(out);
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(out), net::use_nothrow);
    // PostgreSQL closes the connection once it has read the request; waiting
    // for that makes sure the request was taken before we hang up.
    std::byte sink[1];
    if (!ec) co_await socket.async_read_some(asio::buffer(sink), net::use_nothrow);
    co_return !ec;
  };
  co_await net::with_timeout(attempt(), timeout);
}

}  // namespace pggat::backend
