// SCRAM-SHA-256(-PLUS) client: pggat logging in to a PostgreSQL server.
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

// What the client's gs2 header says about channel binding (RFC 5802 section 6).
enum class ChannelBindingFlag {
  unsupported,           // "n,,": no TLS, so nothing to bind to
  not_offered,           // "y,,": we could bind but the server did not offer -PLUS; a server
                         // that did offer it rejects this, which defeats a downgrade
  tls_server_end_point,  // "p=tls-server-end-point,,": SCRAM-SHA-256-PLUS
};

struct ChannelBinding {
  ChannelBindingFlag flag = ChannelBindingFlag::unsupported;
  // With tls_server_end_point: the hash of the server's certificate (RFC 5929 section 4.1).
  std::vector<std::uint8_t> data;
};

struct ScramClientOptions {
  ChannelBinding channel_binding;
  // Sent as "n=". PostgreSQL ignores it (the startup packet names the user), so pggat leaves
  // it empty; the RFC test vectors set it.
  std::string username;
  // Test hook: a fixed client nonce. Empty draws scram::raw_nonce_length random bytes.
  std::string nonce;
  // Refuse servers asking for more PBKDF2 iterations than this: each one costs us CPU.
  int max_iterations = 10'000'000;
};

// One exchange: client_first → handle_server_first → client_final → verify_server_final.
// Calls out of that order fail, as does every call after a failure.
class ScramClient {
 public:
  using Options = ScramClientOptions;

  explicit ScramClient(std::string_view password, Options options = {});
  // Log in without the plaintext, with keys recovered from a client or cached earlier.
  explicit ScramClient(const ScramKeys& keys, Options options = {});

  ScramMechanism mechanism() const;

  [[nodiscard]] Result<std::string> client_first();
  // Parses r=,s=,i= and computes the proof and the expected server signature.
  [[nodiscard]] Status handle_server_first(std::string_view message);
  [[nodiscard]] Result<std::string> client_final();
  // Checks v= against the expected server signature; e= fails with the server's reason.
  [[nodiscard]] Status verify_server_final(std::string_view message);

  // The keys used for the proof (available after handle_server_first succeeded), so a caller
  // may cache them with the salt and iteration count and skip PBKDF2 next time.
  const std::optional<ScramKeys>& keys() const { return keys_; }

 private:
  enum class Step { client_first, server_first, client_final, server_final, done, failed };

  Failure fail(Failure failure);
  Failure out_of_order();

  Options options_;
  std::string password_;  // after SASLprep; unused when keys_ were given
  std::optional<ScramKeys> keys_;
  Step step_ = Step::client_first;
  std::string gs2_header_;
  std::string nonce_;
  std::string client_first_bare_;
  std::string client_final_;
  ScramKey server_signature_{};
};

}  // namespace pggat::auth
