// Client authentication: trust, MD5 or SCRAM-SHA-256, picked by the secret's form.
#include "frontend/authenticate.hpp"

#include <array>
#include <mutex>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include "auth/crypto.hpp"
#include "auth/md5.hpp"
#include "auth/scram_server.hpp"
#include "net/deadline.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"

namespace pggat::frontend {
namespace {

using detail::ClientSession;
using detail::ScramPassThrough;

// How an exchange ended, before the delay and the error are applied.
enum class Exchange { ok, wrong, malformed, gone };

struct ExchangeResult {
  Exchange outcome = Exchange::gone;
  std::string detail{};  // for the log and, when malformed, the client
  std::optional<ScramPassThrough> pass_through{};
};

constexpr std::size_t greeting_capacity = 512;

constexpr proto::FrameRules auth_rules{proto::Direction::frontend, proto::states::frontend_authenticating,
                                       proto::small_message_limit};

// Per process: unknown users get the same salt on every attempt, like
// PostgreSQL's mock authentication, yet no one can compute it.
auth::ByteView mock_seed() {
  static std::array<std::uint8_t, 32> seed{};
  static std::once_flag once;
  std::call_once(once, [] { (void)auth::random_bytes(seed); });
  return {seed.data(), seed.size()};
}

// The client's next 'p' message; nullopt if it went away or sent something else.
asio::awaitable<std::optional<proto::Frame>> read_password_message(ClientSession& session,
                                                                    ExchangeResult& result) {
  net::ReadFrameResult r = co_await net::read_frame(session.conn, auth_rules);
  if (r.ec) {
    result.outcome = r.ec == make_error_code(errc::protocol_violation) ||
                             r.ec == make_error_code(errc::message_too_large)
                         ? Exchange::malformed
                         : Exchange::gone;
    result.detail = "expected a password message";
    co_return std::nullopt;
  }
  co_return r.frame;
}

asio::awaitable<ExchangeResult> md5_exchange(ClientSession& session, const std::string& stored) {
  ExchangeResult result;
  auth::Md5Salt salt{};
  (void)auth::random_bytes(salt);
  proto::be::AuthenticationMD5Password challenge;
  for (std::size_t i = 0; i < salt.size(); ++i) challenge.salt[i] = std::byte{salt[i]};
  challenge.encode(session.conn.out);
  if (const auto ec = co_await net::flush(session.conn); ec) co_return result;

  const auto frame = co_await read_password_message(session, result);
  if (!frame) co_return result;
  const auto message = proto::fe::PasswordMessage::decode(frame->body);
  const bool right = message && !stored.empty() &&
                     auth::md5_verify_response(session.client.user, stored, salt, message->password);
  session.conn.in.consume(frame->total_size());
  if (!message) {
    result.outcome = Exchange::malformed;
    result.detail = "invalid password message";
  } else {
    result.outcome = right ? Exchange::ok : Exchange::wrong;
  }
  co_return result;
}

// `scram` is the caller's: it holds the recovered keys afterwards.
asio::awaitable<ExchangeResult> scram_exchange(ClientSession& session, auth::ScramServer& scram) {
  ExchangeResult result;
  const auto mechanisms = scram.offered_mechanisms();
  std::vector<std::string_view> names;
  for (const auto m : mechanisms) names.push_back(auth::mechanism_name(m));
  proto::be::AuthenticationSASL::encode(session.conn.out, names);
  if (const auto ec = co_await net::flush(session.conn); ec) co_return result;

  auto fail = [&](const auth::Failure& f) {
    result.outcome =
        f.code == make_error_code(errc::auth_failed) ? Exchange::wrong : Exchange::malformed;
    result.detail = f.message;
  };

  auto frame = co_await read_password_message(session, result);
  if (!frame) co_return result;
  {
    const auto initial = proto::fe::SASLInitialResponse::decode(frame->body);
    const auto mechanism = initial ? auth::parse_mechanism(initial->mechanism) : std::nullopt;
    if (!initial || !initial->initial_response || !mechanism ||
        std::find(mechanisms.begin(), mechanisms.end(), *mechanism) == mechanisms.end()) {
      result.outcome = Exchange::malformed;
      result.detail = "client selected an invalid SASL authentication mechanism";
      co_return result;
    }
    const auth::Status first =
        scram.handle_client_first(proto::as_string_view(*initial->initial_response), *mechanism);
    session.conn.in.consume(frame->total_size());
    if (!first.ok()) {
      fail(first.error());
      co_return result;
    }
  }
  const auto server_first = scram.server_first();
  if (!server_first.ok()) {
    fail(server_first.error());
    co_return result;
  }
  proto::be::AuthenticationSASLContinue{proto::as_bytes(*server_first)}.encode(session.conn.out);
  if (const auto ec = co_await net::flush(session.conn); ec) co_return result;

  frame = co_await read_password_message(session, result);
  if (!frame) co_return result;
  {
    const auto response = proto::fe::SASLResponse::decode(frame->body);
    if (!response) {
      result.outcome = Exchange::malformed;
      result.detail = "invalid SASL response";
      co_return result;
    }
    const auth::Status final_status = scram.handle_client_final(proto::as_string_view(response->data));
    session.conn.in.consume(frame->total_size());
    if (!final_status.ok()) {
      fail(final_status.error());
      co_return result;
    }
  }
  const auto server_final = scram.server_final();
  if (!server_final.ok()) {
    fail(server_final.error());
    co_return result;
  }
  proto::be::AuthenticationSASLFinal{proto::as_bytes(*server_final)}.encode(session.conn.out);
  result.outcome = Exchange::ok;
  co_return result;
}

asio::awaitable<ExchangeResult> exchange(ClientSession& session, const Credentials& credentials,
                                         const std::optional<std::string>& secret) {
  auth::ScramServerOptions options;
  if (const auto* end_point = session.tls_server_end_point()) options.channel_binding = *end_point;
  const std::string& user = session.client.user;
  if (!secret) {
    // Unknown: the exchange the other users get, bound to fail.
    if (credentials.mock_with_md5()) co_return co_await md5_exchange(session, "");
    auto doomed = auth::ScramServer::doomed(user, mock_seed(), options);
    if (!doomed.ok()) co_return ExchangeResult{Exchange::malformed, doomed.error().message};
    co_return co_await scram_exchange(session, *doomed);
  }
  if (auth::is_md5_hash(*secret)) co_return co_await md5_exchange(session, *secret);
  if (auth::is_scram_secret(*secret)) {
    auto parsed = auth::ScramSecret::parse(*secret);
    if (!parsed) co_return ExchangeResult{Exchange::wrong, "the configured SCRAM secret is malformed"};
    auth::ScramServer scram(*parsed, options);
    ExchangeResult result = co_await scram_exchange(session, scram);
    if (result.outcome == Exchange::ok)
      if (auto keys = scram.recovered_keys()) result.pass_through = ScramPassThrough{*secret, *keys};
    co_return result;
  }
  auto scram = auth::ScramServer::from_password(*secret, options);
  if (!scram.ok()) co_return ExchangeResult{Exchange::wrong, scram.error().message};
  co_return co_await scram_exchange(session, *scram);
}

}  // namespace

asio::awaitable<std::optional<PgError>> authenticate(ClientSession& session) {
  const std::shared_ptr<const Credentials> credentials = session.client.credentials;
  const std::optional<std::string> secret =
      credentials ? credentials->secret(session.client.user) : std::optional<std::string>("");
  if (!secret || !secret->empty()) {
    auto exchanged =
        co_await net::with_deadline(session.conn.stream, exchange(session, *credentials, secret),
                                    session.facts.startup_timeout);
    if (!exchanged)
      co_return PgError::fatal(sqlstate::connection_failure, "authentication timed out");
    switch (exchanged->outcome) {
      case Exchange::ok:
        if (exchanged->pass_through)
          session.scram_pass_through = std::make_unique<const ScramPassThrough>(std::move(*exchanged->pass_through));
        break;
      case Exchange::gone:
        co_return PgError::fatal(sqlstate::connection_failure,
                                 "client went away during authentication");
      case Exchange::malformed:
        co_return PgError::fatal(sqlstate::protocol_violation, exchanged->detail);
      case Exchange::wrong: {
        // The same wait for a wrong password and an unknown user.
        asio::steady_timer delay(co_await asio::this_coro::executor,
                                 std::chrono::duration_cast<asio::steady_timer::duration>(
                                     credentials->failure_delay));
        (void)co_await delay.async_wait(net::use_nothrow);
        co_return PgError::fatal(sqlstate::invalid_password, "password authentication failed for user \"" +
                                                                 session.client.user + "\"");
      }
    }
  }
  // Not flushed: the greeting that follows (or an error) carries it, one
  // write for the whole reply. Room for a usual greeting (ParameterStatus
  // for the 13 or so parameters PostgreSQL reports, BackendKeyData,
  // ReadyForQuery: about 400 bytes), made once rather than grown three times.
  session.conn.out.reserve(greeting_capacity);
  proto::be::AuthenticationOk{}.encode(session.conn.out);
  co_return std::nullopt;
}

}  // namespace pggat::frontend
