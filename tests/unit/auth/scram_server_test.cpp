// ScramServer: the RFC 7677 exchange from a stored secret, client and server together,
// channel binding, and rejection of wrong passwords, tampering and malformed messages.
#include "auth/scram_server.hpp"

#include <catch2/catch.hpp>

#include "auth/base64.hpp"
#include "auth/crypto.hpp"
#include "auth/scram_client.hpp"

using namespace pggat::auth;

namespace {
constexpr std::string_view rfc_secret =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
constexpr std::string_view rfc_client_first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view rfc_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view rfc_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view rfc_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
constexpr std::string_view rfc_client_final_prefix =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,";

ScramSecret rfc() {
  auto secret = ScramSecret::parse(rfc_secret);
  REQUIRE(secret);
  return *secret;
}

ScramServer rfc_server() {
  ScramServer::Options options;
  options.nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  return ScramServer(rfc(), options);
}

// A server that has answered the RFC client-first.
ScramServer rfc_server_at_final() {
  ScramServer server = rfc_server();
  REQUIRE(server.handle_client_first(rfc_client_first));
  REQUIRE(server.server_first());
  return server;
}

struct Outcome {
  Status client_side;  // the client's check of server-final, when the server accepted
  Status server_side;
};

// Runs a whole exchange; stops at the first failure and reports it.
Outcome exchange(ScramClient& client, ScramServer& server,
                 ScramMechanism mechanism = ScramMechanism::scram_sha_256) {
  const auto client_first = client.client_first();
  if (!client_first) return {client_first.error(), {}};
  if (Status s = server.handle_client_first(*client_first, mechanism); !s) return {{}, s};
  const auto server_first = server.server_first();
  if (!server_first) return {{}, server_first.error()};
  if (Status s = client.handle_server_first(*server_first); !s) return {s, {}};
  const auto client_final = client.client_final();
  if (!client_final) return {client_final.error(), {}};
  if (Status s = server.handle_client_final(*client_final); !s) return {{}, s};
  const auto server_final = server.server_final();
  if (!server_final) return {{}, server_final.error()};
  return {client.verify_server_final(*server_final), {}};
}

ScramClient::Options with_binding(ChannelBindingFlag flag, std::vector<std::uint8_t> data = {}) {
  ScramClient::Options options;
  options.channel_binding.flag = flag;
  options.channel_binding.data = std::move(data);
  return options;
}
}  // namespace

TEST_CASE("ScramServer verifies the RFC 7677 exchange from the stored secret",
          "[auth][scram][server]") {
  ScramServer server = rfc_server();
  REQUIRE(server.handle_client_first(rfc_client_first));
  const auto server_first = server.server_first();
  REQUIRE(server_first);
  CHECK(*server_first == rfc_server_first);
  const Status verified = server.handle_client_final(rfc_client_final);
  REQUIRE(verified.ok());
  const auto server_final = server.server_final();
  REQUIRE(server_final);
  CHECK(*server_final == rfc_server_final);

  // The proof gave away ClientKey, which is what pggat needs to log in elsewhere.
  REQUIRE(server.client_key());
  CHECK(base64_encode(*server.client_key()) == "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=");
  const auto keys = server.recovered_keys();
  REQUIRE(keys);
  CHECK(base64_encode(keys->server_key) == "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
}

TEST_CASE("recovered keys log in to a server holding the same secret", "[auth][scram][server]") {
  ScramServer front = rfc_server_at_final();
  REQUIRE(front.handle_client_final(rfc_client_final));
  const auto keys = front.recovered_keys();
  REQUIRE(keys);

  ScramClient client(*keys);
  ScramServer back(rfc());
  const Outcome outcome = exchange(client, back);
  CHECK(outcome.server_side.ok());
  CHECK(outcome.client_side.ok());
}

TEST_CASE("client and server agree with random nonces", "[auth][scram][server]") {
  const auto secret = ScramSecret::generate("correct horse");
  REQUIRE(secret);
  ScramClient client("correct horse");
  ScramServer server(*secret);
  const Outcome outcome = exchange(client, server);
  CHECK(outcome.server_side.ok());
  CHECK(outcome.client_side.ok());
  REQUIRE(server.recovered_keys());
  REQUIRE(client.keys());
  CHECK(*server.recovered_keys() == *client.keys());
}

TEST_CASE("ScramServer::from_password accepts that password only", "[auth][scram][server]") {
  auto server = ScramServer::from_password("pencil");
  REQUIRE(server);
  ScramClient client("pencil");
  CHECK(exchange(client, *server).client_side.ok());

  auto other = ScramServer::from_password("pencil");
  REQUIRE(other);
  ScramClient wrong("pen");
  const Outcome outcome = exchange(wrong, *other);
  REQUIRE_FALSE(outcome.server_side.ok());
  CHECK(outcome.server_side.error().code == pggat::errc::auth_failed);
}

TEST_CASE("ScramServer rejects a wrong password", "[auth][scram][server]") {
  ScramClient client("pencil!");
  ScramServer server(rfc());
  const Outcome outcome = exchange(client, server);
  REQUIRE_FALSE(outcome.server_side.ok());
  CHECK(outcome.server_side.error().code == pggat::errc::auth_failed);
  CHECK_FALSE(server.client_key());
  CHECK_FALSE(server.server_final());
}

TEST_CASE("ScramServer rejects tampered proofs", "[auth][scram][server]") {
  auto proof = base64_decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  REQUIRE(proof);
  for (std::size_t byte : {std::size_t{0}, std::size_t{17}, std::size_t{31}}) {
    CAPTURE(byte);
    auto tampered = *proof;
    tampered[byte] ^= 0x01;
    ScramServer server = rfc_server_at_final();
    const Status status = server.handle_client_final(std::string(rfc_client_final_prefix) +
                                                     "p=" + base64_encode(tampered));
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == pggat::errc::auth_failed);
  }
}

TEST_CASE("ScramServer rejects a proof bound to another exchange", "[auth][scram][server]") {
  // The RFC proof replayed against a server that chose another nonce.
  ScramServer::Options options;
  options.nonce = "anotherServerNonce";
  ScramServer server(rfc(), options);
  REQUIRE(server.handle_client_first(rfc_client_first));
  REQUIRE(server.server_first());
  const Status status = server.handle_client_final(rfc_client_final);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == pggat::errc::protocol_violation);
}

TEST_CASE("ScramServer rejects wrong nonces in client-final", "[auth][scram][server]") {
  const std::string_view bad[] = {
      "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0X,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  };
  for (std::string_view message : bad) {
    CAPTURE(message);
    ScramServer server = rfc_server_at_final();
    const Status status = server.handle_client_final(message);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == pggat::errc::protocol_violation);
  }
}

TEST_CASE("ScramServer rejects malformed client-first messages", "[auth][scram][server]") {
  const std::string_view bad[] = {
      "",
      "n",
      "n,",
      "x,,n=,r=abc",  // unknown flag
      "nn,,n=,r=abc",
      "n,a=someone,n=,r=abc",              // authorization identity
      "n,x,n=,r=abc",                      // junk where the authzid goes
      "n,,m=ext,n=,r=abc",                 // mandatory extension
      "n,,r=abc",                          // no user name
      "n,,n=",                             // no nonce
      "n,,n=,r=",                          // empty nonce
      "n,,n=,r=a b",                       // nonce not printable
      "n,,n=,r=abc,",                      // trailing comma
      "n,,n=,r=abc,junk",                  // not an attribute
      "p=tls-server-end-point,,n=,r=abc",  // binding data with SCRAM-SHA-256
  };
  for (std::string_view message : bad) {
    CAPTURE(message);
    ScramServer server(rfc());
    const Status status = server.handle_client_first(message);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == pggat::errc::protocol_violation);
    CHECK_FALSE(status.error().message.empty());
    CHECK_FALSE(server.server_first());
  }
}

TEST_CASE("ScramServer ignores client-first extensions", "[auth][scram][server]") {
  ScramServer server(rfc());
  CHECK(server.handle_client_first("n,,n=,r=abc,x=extension").ok());
}

TEST_CASE("ScramServer rejects malformed client-final messages", "[auth][scram][server]") {
  const std::string proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  const std::string nonce = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
  const std::string bad[] = {
      "",
      "c=biws," + nonce,                         // no proof
      nonce + ",c=biws," + proof,                // order
      "c=biws," + nonce + "," + proof + ",x=1",  // proof not last
      "c=biws," + nonce + "," + proof + ",",     // trailing comma
      "c=eSws," + nonce + "," + proof,           // "y,," but the client sent "n,,"
      "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws," + nonce + "," + proof,        // "p=...,,"
      "c=," + nonce + "," + proof,                                        // empty binding
      "c=biw," + nonce + "," + proof,                                     // bad base64
      "c=biws," + nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7An",  // short proof
      "c=biws," + nonce + ",p=" + base64_encode(std::string(33, 'x')),    // long proof
      "c=biws," + nonce + ",p=not base64",
  };
  for (const std::string& message : bad) {
    CAPTURE(message);
    ScramServer server = rfc_server_at_final();
    const Status status = server.handle_client_final(message);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == pggat::errc::protocol_violation);
  }
}

TEST_CASE("ScramServer accepts extensions before the proof", "[auth][scram][server]") {
  // Extensions are part of the AuthMessage, so the proof must cover them.
  const std::string without_proof = std::string(rfc_client_final_prefix) + "x=ext";
  const std::string auth_message =
      "n=user,r=rOprNGfwEbeRWgbNEkqO," + std::string(rfc_server_first) + "," + without_proof;
  const auto client_key = base64_decode("pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=");
  REQUIRE(client_key);
  const ScramSecret secret = rfc();
  const auto signature = hmac_sha256(secret.stored_key, bytes_of(auth_message));
  REQUIRE(signature);
  std::vector<std::uint8_t> proof(32);
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] = (*client_key)[i] ^ (*signature)[i];

  SECTION("a proof over the extension passes") {
    ScramServer server = rfc_server_at_final();
    CHECK(server.handle_client_final(without_proof + ",p=" + base64_encode(proof)).ok());
    REQUIRE(server.client_key());
    CHECK(std::vector<std::uint8_t>(server.client_key()->begin(), server.client_key()->end()) ==
          *client_key);
  }
  SECTION("the RFC proof, which does not cover it, fails") {
    ScramServer server = rfc_server_at_final();
    const Status status = server.handle_client_final(
        without_proof + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == pggat::errc::auth_failed);
  }
}

TEST_CASE("channel binding between client and server", "[auth][scram][server]") {
  const auto secret = ScramSecret::generate("pencil");
  REQUIRE(secret);
  const std::vector<std::uint8_t> cert_hash = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};
  ScramServer::Options tls;
  tls.channel_binding = cert_hash;

  SECTION("SCRAM-SHA-256-PLUS with the same certificate hash") {
    ScramServer server(*secret, tls);
    CHECK(server.offered_mechanisms() ==
          std::vector{ScramMechanism::scram_sha_256_plus, ScramMechanism::scram_sha_256});
    ScramClient client("pencil", with_binding(ChannelBindingFlag::tls_server_end_point, cert_hash));
    const Outcome outcome = exchange(client, server, client.mechanism());
    CHECK(outcome.server_side.ok());
    CHECK(outcome.client_side.ok());
  }
  SECTION("SCRAM-SHA-256-PLUS with another certificate hash: a man in the middle") {
    ScramServer server(*secret, tls);
    ScramClient client("pencil",
                       with_binding(ChannelBindingFlag::tls_server_end_point, {0x01, 0x02}));
    const Outcome outcome = exchange(client, server, client.mechanism());
    REQUIRE_FALSE(outcome.server_side.ok());
    CHECK(outcome.server_side.error().code == pggat::errc::auth_failed);
  }
  SECTION("SCRAM-SHA-256-PLUS when the server did not offer it") {
    ScramServer server(*secret);
    CHECK(server.offered_mechanisms() == std::vector{ScramMechanism::scram_sha_256});
    ScramClient client("pencil", with_binding(ChannelBindingFlag::tls_server_end_point, cert_hash));
    const Outcome outcome = exchange(client, server, client.mechanism());
    CHECK_FALSE(outcome.server_side.ok());
  }
  SECTION("SCRAM-SHA-256-PLUS named but the message has no binding") {
    ScramServer server(*secret, tls);
    ScramClient client("pencil");
    const Outcome outcome = exchange(client, server, ScramMechanism::scram_sha_256_plus);
    CHECK_FALSE(outcome.server_side.ok());
  }
  SECTION("y,, to a server that offered binding: a downgrade") {
    ScramServer server(*secret, tls);
    ScramClient client("pencil", with_binding(ChannelBindingFlag::not_offered));
    const Outcome outcome = exchange(client, server);
    REQUIRE_FALSE(outcome.server_side.ok());
    CHECK(outcome.server_side.error().message.find("channel binding") != std::string::npos);
  }
  SECTION("y,, to a server without binding") {
    ScramServer server(*secret);
    ScramClient client("pencil", with_binding(ChannelBindingFlag::not_offered));
    const Outcome outcome = exchange(client, server);
    CHECK(outcome.server_side.ok());
    CHECK(outcome.client_side.ok());
  }
  SECTION("n,, to a server that offered binding") {
    ScramServer server(*secret, tls);
    ScramClient client("pencil");
    const Outcome outcome = exchange(client, server);
    CHECK(outcome.server_side.ok());
    CHECK(outcome.client_side.ok());
  }
  SECTION("an unknown channel binding type") {
    ScramServer server(*secret, tls);
    const Status status =
        server.handle_client_first("p=tls-unique,,n=,r=abc", ScramMechanism::scram_sha_256_plus);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().message.find("tls-unique") != std::string::npos);
  }
}

TEST_CASE("a doomed exchange fails even with the right password", "[auth][scram][server]") {
  const std::vector<std::uint8_t> seed = {1, 2, 3, 4, 5, 6, 7, 8};
  auto server = ScramServer::doomed("nobody", seed);
  REQUIRE(server);
  ScramClient client("");
  const Outcome outcome = exchange(client, *server);
  REQUIRE_FALSE(outcome.server_side.ok());
  CHECK(outcome.server_side.error().code == pggat::errc::auth_failed);

  // The salt a prober sees is stable per user, and differs between users.
  auto salt_of = [&](std::string_view user) {
    auto doomed = ScramServer::doomed(user, seed);
    REQUIRE(doomed);
    REQUIRE(doomed->handle_client_first("n,,n=,r=abc"));
    auto first = doomed->server_first();
    REQUIRE(first);
    return first->substr(first->find(",s="));
  };
  CHECK(salt_of("nobody") == salt_of("nobody"));
  CHECK(salt_of("nobody") != salt_of("somebody"));
  CHECK(salt_of("nobody").ends_with(",i=4096"));
}

TEST_CASE("ScramServer enforces the order of the exchange", "[auth][scram][server]") {
  ScramServer server = rfc_server();
  CHECK_FALSE(server.server_first());
  CHECK_FALSE(server.handle_client_first(rfc_client_first));  // already failed

  ScramServer early = rfc_server();
  REQUIRE(early.handle_client_first(rfc_client_first));
  CHECK_FALSE(early.handle_client_final(rfc_client_final));

  ScramServer twice = rfc_server_at_final();
  REQUIRE(twice.handle_client_final(rfc_client_final));
  CHECK_FALSE(twice.handle_client_final(rfc_client_final));
  CHECK_FALSE(twice.server_final());
}
