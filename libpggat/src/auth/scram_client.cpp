// SCRAM-SHA-256 client exchange (RFC 5802, RFC 7677) as PostgreSQL's libpq runs it.
#include "auth/scram_client.hpp"

#include <charconv>

#include "auth/base64.hpp"
#include "auth/saslprep.hpp"

namespace pggat::auth {
namespace {

std::string gs2_header(ChannelBindingFlag flag) {
  switch (flag) {
    case ChannelBindingFlag::unsupported:
      return "n,,";
    case ChannelBindingFlag::not_offered:
      return "y,,";
    case ChannelBindingFlag::tls_server_end_point:
      return "p=" + std::string(tls_server_end_point) + ",,";
  }
  return "n,,";
}

// A positive decimal int no greater than `max`, nothing else.
std::optional<int> parse_iterations(std::string_view text, int max) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

ScramClient::ScramClient(std::string_view password, Options options)
    : options_(std::move(options)), password_(saslprep_password(password)) {}

ScramClient::ScramClient(const ScramKeys& keys, Options options)
    : options_(std::move(options)), keys_(keys) {}

ScramMechanism ScramClient::mechanism() const {
  return options_.channel_binding.flag == ChannelBindingFlag::tls_server_end_point
             ? ScramMechanism::scram_sha_256_plus
             : ScramMechanism::scram_sha_256;
}

Failure ScramClient::fail(Failure failure) {
  step_ = Step::failed;
  return failure;
}

Failure ScramClient::out_of_order() {
  const bool already_failed = step_ == Step::failed;
  return fail(auth_failure(already_failed ? "SCRAM exchange already failed"
                                          : "SCRAM exchange step out of order"));
}

Result<std::string> ScramClient::client_first() {
  if (step_ != Step::client_first) return out_of_order();
  if (options_.channel_binding.flag == ChannelBindingFlag::tls_server_end_point &&
      options_.channel_binding.data.empty()) {
    return fail(auth_failure("SCRAM channel binding requested without channel binding data"));
  }
  if (options_.nonce.empty()) {
    std::optional<std::string> nonce = scram::random_nonce();
    if (!nonce) return fail(auth_failure("could not generate SCRAM nonce"));
    nonce_ = std::move(*nonce);
  } else {
    if (!scram::is_valid_nonce(options_.nonce)) {
      return fail(auth_failure("invalid fixed SCRAM client nonce"));
    }
    nonce_ = options_.nonce;
  }
  gs2_header_ = gs2_header(options_.channel_binding.flag);
  client_first_bare_ = "n=" + scram::escape_saslname(options_.username) + ",r=" + nonce_;
  step_ = Step::server_first;
  return gs2_header_ + client_first_bare_;
}

Status ScramClient::handle_server_first(std::string_view message) {
  if (step_ != Step::server_first) return out_of_order();
  scram::AttributeReader reader(message);
  const std::optional<std::string_view> nonce = reader.expect('r');
  const std::optional<std::string_view> salt_text = reader.expect('s');
  const std::optional<std::string_view> iterations_text = reader.expect('i');
  if (!nonce || !salt_text || !iterations_text) {
    return fail(protocol_failure("malformed SCRAM server-first-message"));
  }
  // Extensions may follow (RFC 5802 section 7); none are defined, so well-formed ones are ignored.
  while (!reader.done()) {
    if (!reader.next()) return fail(protocol_failure("malformed SCRAM server-first-message"));
  }
  // The server must extend our nonce, or the exchange could be a replay.
  if (!scram::is_valid_nonce(*nonce) || nonce->size() <= nonce_.size() ||
      !nonce->starts_with(nonce_)) {
    return fail(protocol_failure("invalid SCRAM server-first-message (nonce mismatch)"));
  }
  const std::optional<std::vector<std::uint8_t>> salt = base64_decode(*salt_text);
  if (!salt || salt->empty()) {
    return fail(protocol_failure("invalid SCRAM server-first-message (salt)"));
  }
  const std::optional<int> iterations = parse_iterations(*iterations_text, options_.max_iterations);
  if (!iterations) {
    return fail(protocol_failure("invalid SCRAM server-first-message (iteration count)"));
  }

  if (!keys_) {
    keys_ = scram_keys(password_, *salt, *iterations);
    if (!keys_) return fail(auth_failure("could not hash password for SCRAM"));
  }

  std::string binding_input = gs2_header_;
  if (options_.channel_binding.flag == ChannelBindingFlag::tls_server_end_point) {
    binding_input += chars_of(options_.channel_binding.data);
  }
  std::string final_without_proof = "c=" + base64_encode(binding_input) + ",r=";
  final_without_proof += *nonce;

  std::string auth_message = client_first_bare_;
  auth_message += ',';
  auth_message += message;
  auth_message += ',';
  auth_message += final_without_proof;

  const std::optional<ScramKey> stored_key = keys_->stored_key();
  const std::optional<ScramKey> client_signature =
      stored_key ? hmac_sha256(*stored_key, bytes_of(auth_message)) : std::nullopt;
  const std::optional<ScramKey> server_signature =
      hmac_sha256(keys_->server_key, bytes_of(auth_message));
  if (!client_signature || !server_signature) {
    return fail(auth_failure("could not compute SCRAM proof"));
  }
  ScramKey proof{};
  for (std::size_t i = 0; i < proof.size(); ++i) {
    proof[i] = keys_->client_key[i] ^ (*client_signature)[i];
  }
  server_signature_ = *server_signature;
  client_final_ = std::move(final_without_proof) + ",p=" + base64_encode(proof);
  step_ = Step::client_final;
  return {};
}

Result<std::string> ScramClient::client_final() {
  if (step_ != Step::client_final) return out_of_order();
  step_ = Step::server_final;
  return client_final_;
}

Status ScramClient::verify_server_final(std::string_view message) {
  if (step_ != Step::server_final) return out_of_order();
  scram::AttributeReader reader(message);
  const std::optional<scram::Attribute> first = reader.next();
  if (first && first->name == 'e') {
    return fail(
        auth_failure("error received from server in SCRAM exchange: " + std::string(first->value)));
  }
  if (!first || first->name != 'v') {
    return fail(protocol_failure("malformed SCRAM server-final-message"));
  }
  while (!reader.done()) {
    if (!reader.next()) return fail(protocol_failure("malformed SCRAM server-final-message"));
  }
  const std::optional<std::vector<std::uint8_t>> signature = base64_decode(first->value);
  if (!signature) return fail(protocol_failure("malformed SCRAM server signature"));
  // A server that does not hold our secret cannot produce this: it would be an impostor.
  if (!constant_time_equal(*signature, server_signature_)) {
    return fail(auth_failure("incorrect server signature in SCRAM exchange"));
  }
  step_ = Step::done;
  return {};
}

}  // namespace pggat::auth
