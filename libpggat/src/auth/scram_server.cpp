// SCRAM-SHA-256 server exchange (RFC 5802, RFC 7677), checking what PostgreSQL checks.
#include "auth/scram_server.hpp"

#include "auth/base64.hpp"

namespace pggat::auth {

ScramServer::ScramServer(ScramSecret secret, Options options)
    : secret_(std::move(secret)), options_(std::move(options)) {}

Result<ScramServer> ScramServer::from_password(std::string_view password, Options options) {
  std::optional<ScramSecret> secret = ScramSecret::generate(password);
  if (!secret) return auth_failure("could not hash password for SCRAM");
  return ScramServer(std::move(*secret), std::move(options));
}

Result<ScramServer> ScramServer::doomed(std::string_view username, ByteView mock_seed,
                                        Options options) {
  std::string input(username);
  input += chars_of(mock_seed);
  const std::optional<Sha256Digest> digest = sha256(bytes_of(input));
  if (!digest) return auth_failure("could not compute mock SCRAM salt");
  ScramSecret secret;
  secret.iterations = scram_default_iterations;
  secret.salt.assign(digest->begin(), digest->begin() + scram_default_salt_length);
  // The keys stay zero: no ClientKey hashes to them, and doomed_ refuses regardless.
  ScramServer server(std::move(secret), std::move(options));
  server.doomed_ = true;
  return server;
}

std::vector<ScramMechanism> ScramServer::offered_mechanisms() const {
  if (options_.channel_binding) {
    return {ScramMechanism::scram_sha_256_plus, ScramMechanism::scram_sha_256};
  }
  return {ScramMechanism::scram_sha_256};
}

std::optional<ScramKeys> ScramServer::recovered_keys() const {
  if (!client_key_) return std::nullopt;
  return ScramKeys{*client_key_, secret_.server_key};
}

Failure ScramServer::fail(Failure failure) {
  step_ = Step::failed;
  return failure;
}

Failure ScramServer::out_of_order() {
  const bool already_failed = step_ == Step::failed;
  return fail(protocol_failure(already_failed ? "SCRAM exchange already failed"
                                              : "SCRAM exchange step out of order"));
}

Status ScramServer::handle_client_first(std::string_view message, ScramMechanism mechanism) {
  if (step_ != Step::client_first) return out_of_order();
  binding_in_use_ = mechanism == ScramMechanism::scram_sha_256_plus;
  if (binding_in_use_ && !options_.channel_binding) {
    return fail(protocol_failure(
        "client selected SCRAM-SHA-256-PLUS, which was not offered (no TLS channel binding)"));
  }

  // gs2-header = gs2-cbind-flag "," [authzid] ","
  std::string_view rest = message;
  const std::size_t flag_end = rest.find(',');
  if (flag_end == std::string_view::npos) {
    return fail(protocol_failure("malformed SCRAM client-first-message (gs2 header)"));
  }
  const std::string_view flag = rest.substr(0, flag_end);
  if (flag == "n" || flag == "y") {
    if (binding_in_use_) {
      return fail(protocol_failure(
          "client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include "
          "channel binding data"));
    }
    // "y": the client could bind and believes we cannot. If we offered -PLUS, someone in the
    // middle removed it from our mechanism list.
    if (flag == "y" && options_.channel_binding) {
      return fail(auth_failure(
          "SCRAM channel binding negotiation error: the client supports channel binding but "
          "thinks the server does not, while this server does"));
    }
  } else if (flag.starts_with("p=")) {
    if (!binding_in_use_) {
      return fail(protocol_failure(
          "client selected SCRAM-SHA-256 without channel binding, but the SCRAM message "
          "includes channel binding data"));
    }
    if (flag.substr(2) != tls_server_end_point) {
      return fail(protocol_failure("unsupported SCRAM channel-binding type \"" +
                                   std::string(flag.substr(2)) + "\""));
    }
  } else {
    return fail(protocol_failure("malformed SCRAM client-first-message (channel-binding flag)"));
  }
  rest.remove_prefix(flag_end + 1);
  if (rest.starts_with("a=")) {
    return fail(
        protocol_failure("client uses SCRAM authorization identity, which is not supported"));
  }
  if (!rest.starts_with(",")) {
    return fail(protocol_failure("malformed SCRAM client-first-message (gs2 header)"));
  }
  rest.remove_prefix(1);
  gs2_header_ = message.substr(0, message.size() - rest.size());

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  if (rest.starts_with("m=")) {
    return fail(protocol_failure("client requires an unsupported SCRAM extension"));
  }
  scram::AttributeReader reader(rest);
  // The user name is ignored, as PostgreSQL does: the startup packet already named the user.
  const std::optional<std::string_view> username = reader.expect('n');
  const std::optional<std::string_view> client_nonce = reader.expect('r');
  if (!username || !client_nonce) {
    return fail(protocol_failure("malformed SCRAM client-first-message"));
  }
  if (!scram::is_valid_nonce(*client_nonce)) {
    return fail(protocol_failure("malformed SCRAM client-first-message (nonce)"));
  }
  while (!reader.done()) {
    if (!reader.next()) return fail(protocol_failure("malformed SCRAM client-first-message"));
  }

  std::string server_nonce;
  if (options_.nonce.empty()) {
    std::optional<std::string> random = scram::random_nonce();
    if (!random) return fail(auth_failure("could not generate SCRAM nonce"));
    server_nonce = std::move(*random);
  } else {
    if (!scram::is_valid_nonce(options_.nonce)) {
      return fail(auth_failure("invalid fixed SCRAM server nonce"));
    }
    server_nonce = options_.nonce;
  }
  client_first_bare_ = rest;
  nonce_ = std::string(*client_nonce) + server_nonce;
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(secret_.salt) +
                  ",i=" + std::to_string(secret_.iterations);
  step_ = Step::server_first;
  return {};
}

Result<std::string> ScramServer::server_first() {
  if (step_ != Step::server_first) return out_of_order();
  step_ = Step::client_final;
  return server_first_;
}

Status ScramServer::handle_client_final(std::string_view message) {
  if (step_ != Step::client_final) return out_of_order();
  // client-final-message = channel-binding "," nonce ["," extensions] "," proof
  scram::AttributeReader reader(message);
  const std::optional<std::string_view> binding_text = reader.expect('c');
  const std::optional<std::string_view> nonce = reader.expect('r');
  if (!binding_text || !nonce) {
    return fail(protocol_failure("malformed SCRAM client-final-message"));
  }
  std::optional<scram::Attribute> attribute;
  std::size_t proof_start = 0;
  do {
    proof_start = reader.position();
    attribute = reader.next();
    if (!attribute) return fail(protocol_failure("malformed SCRAM client-final-message"));
  } while (attribute->name != 'p');
  if (!reader.done()) {
    return fail(protocol_failure("garbage found at the end of SCRAM client-final-message"));
  }

  // The client must echo its gs2 header, plus our channel binding data when binding: a man in
  // the middle terminating TLS would have different data.
  const std::optional<std::vector<std::uint8_t>> binding = base64_decode(*binding_text);
  std::string expected_binding = gs2_header_;
  if (binding_in_use_) expected_binding += chars_of(*options_.channel_binding);
  if (!binding || chars_of(*binding) != expected_binding) {
    return fail(binding_in_use_ ? auth_failure("SCRAM channel binding check failed")
                                : protocol_failure("unexpected SCRAM channel-binding attribute in "
                                                   "client-final-message"));
  }
  if (*nonce != nonce_) {
    return fail(protocol_failure("invalid SCRAM response (nonce mismatch)"));
  }
  const std::optional<std::vector<std::uint8_t>> proof = base64_decode(attribute->value);
  if (!proof || proof->size() != ScramKey{}.size()) {
    return fail(protocol_failure("malformed SCRAM proof in client-final-message"));
  }

  // proof_start is past the ',' that precedes "p=".
  const std::string_view final_without_proof = message.substr(0, proof_start - 1);
  std::string auth_message = client_first_bare_;
  auth_message += ',';
  auth_message += server_first_;
  auth_message += ',';
  auth_message += final_without_proof;

  const std::optional<ScramKey> client_signature =
      hmac_sha256(secret_.stored_key, bytes_of(auth_message));
  const std::optional<ScramKey> server_signature =
      hmac_sha256(secret_.server_key, bytes_of(auth_message));
  if (!client_signature || !server_signature) {
    return fail(auth_failure("could not compute SCRAM signatures"));
  }
  ScramKey client_key{};
  for (std::size_t i = 0; i < client_key.size(); ++i) {
    client_key[i] = (*proof)[i] ^ (*client_signature)[i];
  }
  const std::optional<ScramKey> stored_key = sha256(client_key);
  if (!stored_key || !constant_time_equal(*stored_key, secret_.stored_key) || doomed_) {
    return fail(auth_failure("SCRAM authentication failed: wrong password"));
  }
  client_key_ = client_key;
  server_signature_ = *server_signature;
  step_ = Step::server_final;
  return {};
}

Result<std::string> ScramServer::server_final() {
  if (step_ != Step::server_final) return out_of_order();
  step_ = Step::done;
  return "v=" + base64_encode(server_signature_);
}

}  // namespace pggat::auth
