// Reading a client's startup packets, PostgreSQL-compatible down to the error texts.
#include "frontend/startup.hpp"

#include <array>
#include <tuple>

#include "net/tls.hpp"
#include "pggat/error.hpp"
#include "pggat/pg_error.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/startup.hpp"

namespace pggat::frontend {
namespace {

asio::awaitable<void> send_fatal(net::Connection& conn, std::string_view code, std::string message) {
  proto::be::ErrorResponse::encode(conn.out, PgError::fatal(code, std::move(message)));
  (void)co_await net::flush(conn);
}

bool is_true(std::string_view v) {
  return v == "1" || v == "true" || v == "on" || v == "yes" || v == "database";
}

// Startup parameters the protocol itself uses or we must refuse.
std::optional<std::pair<std::string_view, std::string>> check_parameter(std::string_view name,
                                                                       std::string_view value) {
  if (name == "replication") {
    if (!is_true(value) && value != "0" && value != "false" && value != "off" && value != "no")
      return std::pair{sqlstate::protocol_violation,
                       "invalid value for parameter \"replication\": \"" + std::string(value) + "\""};
    if (is_true(value))
      return std::pair{sqlstate::feature_not_supported,
                       std::string("replication connections are not supported through pggat; "
                                   "connect to the server directly")};
  }
  return std::nullopt;
}

// The FATAL that refuses a client's startup: what PostgreSQL would send.
struct Refusal {
  std::string_view code;
  std::string message;
};

// A complete StartupMessage, read into a request; a NegotiateProtocolVersion
// goes into `out` when the client asked for a newer minor version or for
// protocol options. The request owns its strings: the frame may be consumed.
std::variant<StartupRequest, Refusal> startup_request(const proto::StartupFrame& frame, proto::Buffer& out) {
  const auto message = proto::StartupMessage::decode(frame);
  const std::uint32_t major = frame.code >> 16;
  const std::uint32_t minor = frame.code & 0xffff;
  if (major != 3)
    return Refusal{sqlstate::feature_not_supported, "unsupported frontend protocol " + std::to_string(major) +
                                                        "." + std::to_string(minor) +
                                                        ": server supports 3.0 to 3.0"};
  if (!message) return Refusal{sqlstate::protocol_violation, "invalid startup packet layout"};
  StartupRequest request;
  std::vector<std::string> unsupported;  // _pq_. protocol options
  std::optional<std::string> options;
  for (const auto& [name, value] : message->parameters) {
    if (name == "user") {
      request.user = std::string(value);
    } else if (name == "database") {
      request.database = std::string(value);
    } else if (name == "options") {
      options = std::string(value);
    } else if (name.substr(0, 4) == "_pq_") {
      unsupported.emplace_back(name);
    } else {
      if (auto problem = check_parameter(name, value)) return Refusal{problem->first, std::move(problem->second)};
      if (name != "replication") request.parameters.set(name, value);
    }
  }
  if (request.user.empty())
    return Refusal{sqlstate::invalid_authorization, "no PostgreSQL user name specified in startup packet"};
  if (request.database.empty()) request.database = request.user;
  if (options) {
    if (auto problem = apply_options(*options, request.parameters))
      return Refusal{sqlstate::feature_not_supported, std::move(*problem)};
  }
  if (minor > 0 || !unsupported.empty()) {
    // Speak 3.0 and say which protocol options we did not take.
    std::vector<std::string_view> names(unsupported.begin(), unsupported.end());
    proto::be::NegotiateProtocolVersion::encode(out, 0, names);
  }
  return request;
}

}  // namespace

std::optional<std::string> apply_options(std::string_view options, Parameters& params) {
  // pg_split_opts: split on unescaped whitespace; a backslash keeps the next byte.
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < options.size(); ++i) {
    const char c = options[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 < options.size()) word += options[++i];  // a trailing backslash is dropped
      continue;
    }
    word += c;
  }
  if (in_word) words.push_back(std::move(word));

  auto set_pair = [&](std::string_view pair) -> std::optional<std::string> {
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return "invalid option \"" + std::string(pair) + "\" in startup parameter \"options\": expected name=value";
    std::string name(pair.substr(0, eq));
    for (char& ch : name)
      if (ch == '-') ch = '_';  // --search-path=x is search_path, as in PostgreSQL
    params.set(name, pair.substr(eq + 1));
    return std::nullopt;
  };
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string_view w = words[i];
    if (w == "-c") {
      if (i + 1 >= words.size()) return std::string("option \"-c\" in startup parameter \"options\" needs name=value");
      if (auto problem = set_pair(words[++i])) return problem;
    } else if (w.substr(0, 2) == "-c") {
      if (auto problem = set_pair(w.substr(2))) return problem;
    } else if (w.substr(0, 2) == "--") {
      if (auto problem = set_pair(w.substr(2))) return problem;
    } else {
      return "unsupported option \"" + std::string(w) +
             "\" in startup parameter \"options\": pggat accepts -c name=value and --name=value";
    }
  }
  return std::nullopt;
}

// The reads and answers of the startup; what a StartupMessage says is read by
// startup_request, and a refusal is sent from one place, which keeps this
// coroutine's frame (one per connection) small.
asio::awaitable<StartupOutcome> read_startup(net::Connection& conn, std::shared_ptr<net::TlsServerContext> tls) {
  // PostgreSQL's rule: one SSLRequest and one GSSENCRequest at most, in either
  // order. A repeated one is read as what its code then is, a StartupMessage
  // of protocol 1234.5679, and refused as such (0A000, "unsupported frontend
  // protocol"), as PostgreSQL does. The flags only ever go up, so a client
  // alternating the two cannot loop (PostgreSQL's own flags can).
  bool ssl_done = false;
  bool gss_done = false;
  Refusal refusal;
  for (;;) {
    const proto::StartupResult r = proto::decode_startup(conn.in.data());
    if (r.status == proto::DecodeStatus::need_more) {
      net::IoResult read;
      co_await conn.stream.receive(conn.in.prepare(), read);
      const auto [ec, n] = read;
      if (ec || n == 0) co_return StartupFailed{};
      conn.in.commit(n);
      continue;
    }
    if (r.status == proto::DecodeStatus::invalid) {
      refusal = Refusal{sqlstate::protocol_violation, std::string(r.error)};
      break;
    }
    proto::StartupKind kind = r.frame.kind;
    if ((kind == proto::StartupKind::ssl_request && ssl_done) ||
        (kind == proto::StartupKind::gssenc_request && gss_done))
      kind = proto::StartupKind::startup_message;
    if (kind == proto::StartupKind::ssl_request || kind == proto::StartupKind::gssenc_request) {
      conn.in.consume(r.consumed);
      (kind == proto::StartupKind::ssl_request ? ssl_done : gss_done) = true;
      const bool accept_tls = kind == proto::StartupKind::ssl_request && tls != nullptr && !conn.stream.is_tls();
      // Bytes sent before the handshake would be taken as if they had
      // come encrypted (CVE-2021-23214): PostgreSQL refuses them too.
      if (accept_tls && !conn.in.empty()) {
        refusal = Refusal{sqlstate::protocol_violation, "received unencrypted data after SSL request"};
        break;
      }
      if (accept_tls) gss_done = true;  // once encrypted, no GSS encryption on top (PostgreSQL's rule too)
      const char answer = accept_tls ? 'S' : 'N';
      // Sent at once (a new socket takes a byte), with no asynchronous
      // write's machinery: once per connection for libpq's sslmode=prefer.
      // net::write_soon does the same in a frame of its own, sized for 64
      // buffers: more than one byte needs, here on every connection.
      std::array<asio::const_buffer, 1> answer_buffer{asio::buffer(&answer, 1)};
      std::error_code ec;
      const auto rest = conn.stream.send_at_once(answer_buffer, ec);
      if (!ec && !rest.empty()) std::tie(ec, std::ignore) = co_await conn.stream.write(rest);
      if (ec) co_return StartupFailed{};
      if (accept_tls) {
        std::string why;
        const auto handshake_ec = co_await conn.stream.start_tls_server(tls, &why);
        if (handshake_ec) co_return StartupFailed{"TLS handshake failed: " + why};
      }
      continue;
    }
    if (kind == proto::StartupKind::cancel_request) {
      const auto cancel = proto::CancelRequest::decode(r.frame);
      conn.in.consume(r.consumed);
      if (!cancel) co_return StartupFailed{};
      co_return CancelRequest{BackendKey{static_cast<std::uint32_t>(cancel->process_id),
                                         static_cast<std::uint32_t>(cancel->secret_key)}};
    }
    proto::StartupFrame frame = r.frame;
    frame.kind = kind;
    auto request = startup_request(frame, conn.out);
    conn.in.consume(r.consumed);
    if (auto* refused = std::get_if<Refusal>(&request)) {
      refusal = std::move(*refused);
      break;
    }
    if (!conn.out.empty()) {  // a NegotiateProtocolVersion
      const auto ec = co_await net::flush(conn);
      if (ec) co_return StartupFailed{};
    }
    co_return std::move(std::get<StartupRequest>(request));
  }
  co_await send_fatal(conn, refusal.code, std::move(refusal.message));
  co_return StartupFailed{};
}

}  // namespace pggat::frontend
