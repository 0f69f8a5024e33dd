// SCRAM-SHA-256(-PLUS) server: pggat verifying a client against a stored secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/result.hpp"
#include "auth/scram_message.hpp"
#include "auth/scram_secret.hpp"

namespace pggat::auth {

struct ScramServerOptions {
  // On a TLS connection: the tls-server-end-point data of our certificate. Having it means
  // SCRAM-SHA-256-PLUS is offered; without it only SCRAM-SHA-256 is.
  std::optional<std::vector<std::uint8_t>> channel_binding;
  // Test hook: a fixed server nonce (appended to the client's). Empty draws random bytes.
  std::string nonce;
};

// One exchange: handle_client_first → server_first → handle_client_final → server_final.
// Calls out of that order fail, as does every call after a failure. Malformed messages fail
// with errc::protocol_violation, a wrong password with errc::auth_failed.
class ScramServer {
 public:
  using Options = ScramServerOptions;

  explicit ScramServer(ScramSecret secret, Options options = {});
  // From a plaintext password, hashed with a random salt and PostgreSQL's defaults.
  [[nodiscard]] static Result<ScramServer> from_password(std::string_view password,
                                                         Options options = {});
  // For a user without a SCRAM secret: runs the whole exchange and then fails, so a client
  // cannot tell unknown users from wrong passwords. The salt is derived from the user name and
  // `mock_seed` (a per-instance random value), so it is the same on every attempt, like
  // PostgreSQL's mock authentication.
  [[nodiscard]] static Result<ScramServer> doomed(std::string_view username, ByteView mock_seed,
                                                  Options options = {});

  // The mechanisms to list in AuthenticationSASL, preferred first.
  std::vector<ScramMechanism> offered_mechanisms() const;

  // `mechanism` is the one the client named in SASLInitialResponse.
  [[nodiscard]] Status handle_client_first(
      std::string_view message, ScramMechanism mechanism = ScramMechanism::scram_sha_256);
  [[nodiscard]] Result<std::string> server_first();
  [[nodiscard]] Status handle_client_final(std::string_view message);
  [[nodiscard]] Result<std::string> server_final();

  // After handle_client_final succeeded: the client's ClientKey, recovered from its proof.
  const std::optional<ScramKey>& client_key() const { return client_key_; }
  // ClientKey with the secret's ServerKey: enough for a ScramClient to log in to a server
  // that holds the same secret.
  std::optional<ScramKeys> recovered_keys() const;

 private:
  enum class Step { client_first, server_first, client_final, server_final, done, failed };

  Failure fail(Failure failure);
  Failure out_of_order();

  ScramSecret secret_;
  Options options_;
  bool doomed_ = false;
  Step step_ = Step::client_first;
  std::string gs2_header_;
  bool binding_in_use_ = false;
  std::string client_first_bare_;
  std::string nonce_;  // client's and ours
  std::string server_first_;
  ScramKey server_signature_{};
  std::optional<ScramKey> client_key_;
};

}  // namespace pggat::auth
