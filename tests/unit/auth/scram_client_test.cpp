// ScramClient: the RFC 7677 exchange byte for byte, PostgreSQL's gs2 headers, and rejection
// of everything a server could get wrong.
#include "auth/scram_client.hpp"

#include <catch2/catch.hpp>

#include "auth/base64.hpp"

using namespace pggat::auth;

namespace {
// RFC 7677 section 3.
constexpr std::string_view rfc_client_nonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view rfc_client_first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view rfc_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view rfc_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view rfc_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

ScramClient::Options rfc_options() {
  ScramClient::Options options;
  options.username = "user";
  options.nonce = std::string(rfc_client_nonce);
  return options;
}

// A client that has sent its first message with the RFC nonce.
ScramClient started_rfc_client() {
  ScramClient client("pencil", rfc_options());
  REQUIRE(client.client_first());
  return client;
}
}  // namespace

TEST_CASE("ScramClient reproduces the RFC 7677 exchange", "[auth][scram][client]") {
  ScramClient client("pencil", rfc_options());
  CHECK(client.mechanism() == ScramMechanism::scram_sha_256);
  const auto first = client.client_first();
  REQUIRE(first);
  CHECK(*first == rfc_client_first);
  REQUIRE(client.handle_server_first(rfc_server_first));
  const auto final_message = client.client_final();
  REQUIRE(final_message);
  CHECK(*final_message == rfc_client_final);
  const Status verified = client.verify_server_final(rfc_server_final);
  CHECK(verified.ok());
  REQUIRE(client.keys());
  CHECK(base64_encode(client.keys()->client_key) == "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=");
}

TEST_CASE("ScramClient with keys instead of a password sends the same proof",
          "[auth][scram][client]") {
  const auto salt = base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  REQUIRE(salt);
  const auto keys = scram_keys("pencil", *salt, 4096);
  REQUIRE(keys);
  ScramClient client(*keys, rfc_options());
  REQUIRE(client.client_first());
  REQUIRE(client.handle_server_first(rfc_server_first));
  const auto final_message = client.client_final();
  REQUIRE(final_message);
  CHECK(*final_message == rfc_client_final);
  CHECK(client.verify_server_final(rfc_server_final).ok());
}

TEST_CASE("ScramClient in PostgreSQL mode sends an empty user and a random nonce",
          "[auth][scram][client]") {
  ScramClient a("pencil");
  ScramClient b("pencil");
  const auto first_a = a.client_first();
  const auto first_b = b.client_first();
  REQUIRE(first_a);
  REQUIRE(first_b);
  REQUIRE(first_a->starts_with("n,,n=,r="));
  CHECK(first_a->size() == std::string_view("n,,n=,r=").size() + 24);
  CHECK(*first_a != *first_b);
}

TEST_CASE("ScramClient writes the gs2 header for each channel binding case",
          "[auth][scram][client]") {
  const std::string server_first_suffix = "srv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1";
  ScramClient::Options options;
  options.nonce = "abc";

  SECTION("y: client supports binding, server did not offer it") {
    options.channel_binding.flag = ChannelBindingFlag::not_offered;
    ScramClient client("pencil", options);
    CHECK(client.mechanism() == ScramMechanism::scram_sha_256);
    CHECK(client.client_first().ok());
    REQUIRE(client.handle_server_first("r=abc" + server_first_suffix));
    const auto final_message = client.client_final();
    REQUIRE(final_message);
    CHECK(final_message->starts_with("c=eSws,r=abcsrv,p="));  // eSws = base64("y,,")
  }
  SECTION("p=tls-server-end-point with the certificate hash") {
    options.channel_binding.flag = ChannelBindingFlag::tls_server_end_point;
    options.channel_binding.data = {0x01, 0x02, 0xfe};
    ScramClient client("pencil", options);
    CHECK(client.mechanism() == ScramMechanism::scram_sha_256_plus);
    const auto first = client.client_first();
    REQUIRE(first);
    CHECK(*first == "p=tls-server-end-point,,n=,r=abc");
    REQUIRE(client.handle_server_first("r=abc" + server_first_suffix));
    const auto final_message = client.client_final();
    REQUIRE(final_message);
    const std::string expected =
        "c=" + base64_encode(std::string("p=tls-server-end-point,,\x01\x02\xfe")) + ",r=abcsrv,p=";
    CHECK(final_message->starts_with(expected));
  }
  SECTION("p=tls-server-end-point without data is refused") {
    options.channel_binding.flag = ChannelBindingFlag::tls_server_end_point;
    ScramClient client("pencil", options);
    CHECK_FALSE(client.client_first());
  }
}

TEST_CASE("ScramClient escapes the user name", "[auth][scram][client]") {
  ScramClient::Options options;
  options.username = "a,b=c";
  options.nonce = "abc";
  ScramClient client("pencil", options);
  const auto first = client.client_first();
  REQUIRE(first);
  CHECK(*first == "n,,n=a=2Cb=3Dc,r=abc");
}

TEST_CASE("ScramClient rejects bad server-first messages", "[auth][scram][client]") {
  const std::string_view bad[] = {
      "",
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==",               // no i
      "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqO%hvY,i=4096",        // order
      "m=ext,r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // mandatory ext
      "r=XOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",        // not our nonce
      "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",            // not extended
      "r=rOprNGfwEbeRWgbNEkq,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",             // shorter
      "r=rOprNGfwEbeRWgbNEkqO h,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",          // space in nonce
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=,i=4096",                                // empty salt
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",         // bad base64
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x",
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001",  // above the cap
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,",     // trailing comma
      "r=rOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,junk",
  };
  for (std::string_view message : bad) {
    CAPTURE(message);
    ScramClient client = started_rfc_client();
    const Status status = client.handle_server_first(message);
    CHECK_FALSE(status.ok());
    CHECK(status.error().code == pggat::errc::protocol_violation);
    CHECK_FALSE(client.client_final());
  }
}

TEST_CASE("ScramClient honours its iteration cap and ignores extensions", "[auth][scram][client]") {
  ScramClient::Options options = rfc_options();
  options.max_iterations = 4095;
  ScramClient capped("pencil", options);
  REQUIRE(capped.client_first());
  CHECK_FALSE(capped.handle_server_first(rfc_server_first));

  ScramClient client = started_rfc_client();
  REQUIRE(client.handle_server_first(std::string(rfc_server_first) + ",x=extension"));
  const auto final_message = client.client_final();
  REQUIRE(final_message);
  // The extension is part of the AuthMessage, so the proof differs from the RFC's.
  CHECK(
      final_message->starts_with("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="));
  CHECK(*final_message != rfc_client_final);
}

TEST_CASE("ScramClient checks the server signature", "[auth][scram][client]") {
  auto at_server_final = [] {
    ScramClient client = started_rfc_client();
    REQUIRE(client.handle_server_first(rfc_server_first));
    REQUIRE(client.client_final());
    return client;
  };
  SECTION("a wrong signature: the server does not know the secret") {
    ScramClient client = at_server_final();
    const Status status =
        client.verify_server_final("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    CHECK(status.error().code == pggat::errc::auth_failed);
  }
  SECTION("a truncated signature") {
    ScramClient client = at_server_final();
    CHECK_FALSE(client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl9"));
  }
  SECTION("an error from the server") {
    ScramClient client = at_server_final();
    const Status status = client.verify_server_final("e=invalid-proof");
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == pggat::errc::auth_failed);
    CHECK(status.error().message.find("invalid-proof") != std::string::npos);
  }
  SECTION("malformed messages") {
    for (std::string_view message : {"", "v=", "x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
                                     "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,"}) {
      CAPTURE(message);
      ScramClient client = at_server_final();
      CHECK_FALSE(client.verify_server_final(message));
    }
  }
}

TEST_CASE("ScramClient enforces the order of the exchange", "[auth][scram][client]") {
  ScramClient client("pencil", rfc_options());
  CHECK_FALSE(client.handle_server_first(rfc_server_first));
  // Once failed, it stays failed.
  CHECK_FALSE(client.client_first());

  ScramClient twice("pencil", rfc_options());
  REQUIRE(twice.client_first());
  CHECK_FALSE(twice.client_first());

  ScramClient early("pencil", rfc_options());
  REQUIRE(early.client_first());
  CHECK_FALSE(early.client_final());
  CHECK_FALSE(early.verify_server_final(rfc_server_final));
}
