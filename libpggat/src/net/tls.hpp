// TLS contexts: what a listener serves clients with, what a recipe dials servers with.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/ssl/context.hpp>

#include "pggat/expected.hpp"
#include "pggat/recipe.hpp"
#include "pggat/server.hpp"

using SSL = struct ssl_st;
using X509 = struct x509_st;

namespace pggat::net {

// One listener's certificate, key and client-certificate policy; shared by
// all of its connections. TLS 1.2 is the minimum.
class TlsServerContext {
 public:
  // Loads the files, or generates a key and certificate (self_signed). The
  // error names the file and what is wrong with it.
  [[nodiscard]] static Expected<std::shared_ptr<TlsServerContext>, std::string> create(
      const ListenerTls& options);

  [[nodiscard]] asio::ssl::context& context() { return context_; }
  // RFC 5929 tls-server-end-point of our certificate (what SCRAM-SHA-256-PLUS
  // binds to); empty when the certificate's signature hash leaves it undefined.
  [[nodiscard]] const std::vector<std::uint8_t>& tls_server_end_point() const { return end_point_; }

 private:
  TlsServerContext();
  asio::ssl::context context_;
  std::vector<std::uint8_t> end_point_;
};

// How one recipe talks TLS to its servers.
class TlsClientContext {
 public:
  [[nodiscard]] static Expected<std::shared_ptr<TlsClientContext>, std::string> create(
      const RecipeTls& options, SslMode mode);

  [[nodiscard]] asio::ssl::context& context() { return context_; }
  [[nodiscard]] bool verify_chain() const { return verify_chain_; }
  [[nodiscard]] bool verify_host() const { return verify_host_; }

  // Sets SNI (host names only, as libpq) and the expected host name or IP
  // address on one connection's SSL object; returns an error text on failure.
  [[nodiscard]] std::optional<std::string> prepare(SSL* ssl, const std::string& host) const;

 private:
  TlsClientContext();
  asio::ssl::context context_;
  bool verify_chain_ = false;
  bool verify_host_ = false;
};

// RFC 5929 tls-server-end-point: the certificate's hash with its signature
// algorithm's hash, SHA-256 when that is MD5 or SHA-1. Empty when undefined.
[[nodiscard]] std::vector<std::uint8_t> tls_server_end_point(X509* certificate);

// Why a handshake failed, in words: the certificate check's verdict when that
// was the reason, else OpenSSL's error.
[[nodiscard]] std::string describe_handshake_error(SSL* ssl, const std::error_code& ec);

}  // namespace pggat::net
