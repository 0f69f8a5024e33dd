// libFuzzer target: SCRAM-SHA-256(-PLUS) message parsing and both sides of the exchange.
//
// Input: a selector byte, then up to four parts separated by NUL bytes:
//   client-first-message, client-final-message   (fed to a ScramServer, as from a client)
//   server-first-message, server-final-message   (fed to a ScramClient, as from a server)
// Selector bit 0: a TLS connection (channel binding data, -PLUS offered) and
// the client picks SCRAM-SHA-256-PLUS; bit 1: the client picks plain
// SCRAM-SHA-256 even on TLS; bit 2: an unknown user (the doomed exchange).
// Nonces are fixed so that the seed corpus can hold a complete, valid
// exchange and the fuzzer starts from the deepest path.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "auth/base64.hpp"
#include "auth/scram_client.hpp"
#include "auth/scram_message.hpp"
#include "auth/scram_secret.hpp"
#include "auth/scram_server.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace pggat::auth;
using pggat::fuzz::require;

// Must match tests/fuzz/make_corpus.py.
constexpr std::string_view password = "pencil";
constexpr std::string_view salt_text = "fuzz-salt-16byte";
constexpr std::string_view server_nonce = "fuzzservernonce";
constexpr std::string_view client_nonce = "fuzzclientnonce";
constexpr int iterations = 4096;
const std::vector<std::uint8_t> binding_data(32, 0xab);

// PBKDF2 once per process, not once per input.
const ScramSecret& secret() {
  static const ScramSecret s = [] {
    auto derived = ScramSecret::derive(password, bytes_of(salt_text), iterations);
    require(derived.has_value(), "cannot derive the fuzzer's SCRAM secret");
    return *derived;
  }();
  return s;
}

const ScramKeys& keys() {
  static const ScramKeys k = [] {
    auto derived = scram_keys(password, bytes_of(salt_text), iterations);
    require(derived.has_value(), "cannot derive the fuzzer's SCRAM keys");
    return *derived;
  }();
  return k;
}

std::vector<std::string_view> split(std::string_view input, std::size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const std::size_t nul = input.find('\0');
    if (nul == std::string_view::npos) break;
    parts.push_back(input.substr(0, nul));
    input.remove_prefix(nul + 1);
  }
  parts.push_back(input);
  return parts;
}

// The standalone parsers, on any text.
void parse_everything(std::string_view text) {
  scram::AttributeReader reader(text);
  for (int i = 0; i < 64 && !reader.done(); ++i) {
    const std::size_t before = reader.position();
    if (!reader.next()) break;
    require(reader.position() > before && reader.position() <= text.size(),
            "AttributeReader did not advance within the text");
  }
  (void)parse_mechanism(text);
  (void)scram::is_valid_nonce(text);
  if (const auto decoded = base64_decode(text))
    require(base64_encode(*decoded) == text, "base64 decode/encode is not a round trip");
  if (const auto parsed = ScramSecret::parse(text))
    require(ScramSecret::parse(parsed->to_string()) == parsed, "a parsed secret does not re-parse");
}

void run_server(std::uint8_t selector, std::string_view client_first,
                std::optional<std::string_view> client_final) {
  ScramServerOptions options;
  options.nonce = std::string(server_nonce);
  const bool tls = (selector & 1) != 0;
  if (tls) options.channel_binding = binding_data;
  const ScramMechanism mechanism = tls && (selector & 2) == 0 ? ScramMechanism::scram_sha_256_plus
                                                              : ScramMechanism::scram_sha_256;
  std::optional<ScramServer> server;
  if ((selector & 4) != 0) {
    const std::array<std::uint8_t, 4> seed{1, 2, 3, 4};
    auto doomed = ScramServer::doomed("nobody", seed, options);
    require(doomed.ok(), "cannot set up the doomed exchange");
    server.emplace(std::move(*doomed));
  } else {
    server.emplace(secret(), options);
  }
  (void)server->offered_mechanisms();
  if (!server->handle_client_first(client_first, mechanism)) {
    // Every later step must fail too.
    require(!server->server_first().ok(), "server_first after a failed client-first");
    return;
  }
  const auto first = server->server_first();
  require(first.ok(), "server_first failed after an accepted client-first");
  if (!client_final) return;
  const Status final_status = server->handle_client_final(*client_final);
  if (!final_status) {
    require(!server->client_key().has_value(), "a client key after a failed client-final");
    require(!server->server_final().ok(), "server_final after a failed client-final");
    return;
  }
  require((selector & 4) == 0, "the doomed exchange accepted a proof");
  require(server->client_key().has_value() && server->recovered_keys().has_value(),
          "an accepted proof without the client key");
  require(server->recovered_keys() == keys(), "an accepted proof with another client key");
  require(server->server_final().ok(), "server_final failed after an accepted proof");
}

void run_client(std::uint8_t selector, std::string_view server_first,
                std::optional<std::string_view> server_final) {
  ScramClientOptions options;
  options.nonce = std::string(client_nonce);
  if ((selector & 1) != 0 && (selector & 2) == 0) {
    options.channel_binding.flag = ChannelBindingFlag::tls_server_end_point;
    options.channel_binding.data = binding_data;
  }
  // From keys: a hostile server's iteration count costs nothing here.
  ScramClient client(keys(), options);
  require(client.client_first().ok(), "client_first failed");
  if (!client.handle_server_first(server_first)) return;
  require(client.client_final().ok(), "client_final failed after an accepted server-first");
  if (server_final) (void)client.verify_server_final(*server_final);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<std::string_view> parts = split(input, 4);
  for (std::string_view part : parts) parse_everything(part);
  run_server(selector, parts[0], parts.size() > 1 ? std::optional(parts[1]) : std::nullopt);
  if (parts.size() > 2)
    run_client(selector, parts[2], parts.size() > 3 ? std::optional(parts[3]) : std::nullopt);
  return 0;
}
