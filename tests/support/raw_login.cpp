// Raw-socket login: the startup phase of a RawClient, trust or SCRAM-SHA-256.
#include "support/raw_login.hpp"

#include <optional>
#include <stdexcept>
#include <string>

#include "auth/scram_client.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"

namespace pggat::test {
namespace {

RawMessage next(RawClient& client) {
  auto m = client.read();
  if (!m) throw std::runtime_error("login: the peer closed or went quiet");
  if (m->type == 'E') {
    const auto e = proto::be::ErrorResponse::decode(m->body);
    throw std::runtime_error("login failed: " + (e ? e->to_pg_error().message : "malformed error"));
  }
  return std::move(*m);
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("login: " + what);
}

}  // namespace

std::vector<RawMessage> raw_login(RawClient& client, std::string_view user,
                                  std::string_view password, std::string_view database) {
  client.send_startup(std::string(user), std::string(database));
  std::optional<auth::ScramClient> scram;
  for (;;) {
    RawMessage m = next(client);
    if (m.type != 'R')
      fail(std::string("expected an authentication request, got '") + m.type + "'");
    const auto code = proto::be::auth_code(m.body);
    if (!code) fail("malformed authentication request");
    proto::Buffer out;
    if (*code == proto::be::AuthCode::ok) {
      break;
    } else if (*code == proto::be::AuthCode::sasl) {
      scram.emplace(password);
      const auto first = scram->client_first();
      if (!first) fail(first.error().message);
      proto::fe::SASLInitialResponse{"SCRAM-SHA-256", proto::as_bytes(*first)}.encode(out);
    } else if (*code == proto::be::AuthCode::sasl_continue && scram) {
      const auto req = proto::be::AuthenticationSASLContinue::decode(m.body);
      if (!req) fail("malformed SASL continuation");
      if (const auto st = scram->handle_server_first(proto::as_string_view(req->data)); !st)
        fail(st.error().message);
      const auto final_message = scram->client_final();
      if (!final_message) fail(final_message.error().message);
      proto::fe::SASLResponse{proto::as_bytes(*final_message)}.encode(out);
    } else if (*code == proto::be::AuthCode::sasl_final && scram) {
      const auto req = proto::be::AuthenticationSASLFinal::decode(m.body);
      if (!req) fail("malformed SASL final message");
      if (const auto st = scram->verify_server_final(proto::as_string_view(req->data)); !st)
        fail(st.error().message);
    } else {
      fail("unsupported authentication request " + std::to_string(static_cast<int>(*code)));
    }
    if (!out.empty()) client.send(out);
  }
  std::vector<RawMessage> startup;
  do startup.push_back(next(client));
  while (startup.back().type != 'Z');
  return startup;
}

}  // namespace pggat::test
