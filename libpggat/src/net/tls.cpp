// TLS contexts on OpenSSL: certificate loading and generation, verification settings, channel binding.
#include "net/tls.hpp"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace pggat::net {
namespace {

// The last OpenSSL error, in words; clears the queue.
std::string openssl_error(std::string_view what) {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return std::string(what);
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return std::string(what) + ": " + text;
}

// A clear message for a file that cannot be used at all (most mistakes).
std::optional<std::string> unreadable(const std::string& file) {
  std::ifstream in(file);
  if (in) return std::nullopt;
  return "cannot read \"" + file + "\": " + std::strerror(errno);
}

bool is_ip_literal(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

std::optional<std::string> use_key_pair(SSL_CTX* ctx, const std::string& cert_file,
                                        const std::string& key_file) {
  if (auto problem = unreadable(cert_file)) return problem;
  if (auto problem = unreadable(key_file)) return problem;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    return openssl_error("cannot load certificate \"" + cert_file + "\"");
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return openssl_error("cannot load private key \"" + key_file + "\"");
  if (SSL_CTX_check_private_key(ctx) != 1)
    return openssl_error("private key \"" + key_file + "\" does not match certificate \"" +
                         cert_file + "\"");
  return std::nullopt;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::optional<std::string> add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
  if (ext == nullptr) return openssl_error("invalid certificate extension \"" + value + "\"");
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return openssl_error("cannot add certificate extension");
  return std::nullopt;
}

// An ECDSA P-256 key and a certificate for it, valid from an hour ago for ten years.
std::optional<std::string> use_self_signed(SSL_CTX* ctx, const std::vector<std::string>& sans) {
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
  if (!key) return openssl_error("cannot generate a key");
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!cert) return openssl_error("cannot make a certificate");
  X509_set_version(cert.get(), 2);
  BIGNUM* serial = BN_new();
  if (serial == nullptr || BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(serial);
    return openssl_error("cannot make a serial number");
  }
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = sans.empty() ? std::string("pggat") : sans.front();
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("pggat"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san;
  for (const std::string& s : sans) {
    if (!san.empty()) san += ',';
    san += (is_ip_literal(s) ? "IP:" : "DNS:") + s;
  }
  if (!san.empty())
    if (auto problem = add_extension(cert.get(), NID_subject_alt_name, san)) return problem;
  if (auto problem = add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"))
    return problem;
  if (auto problem = add_extension(cert.get(), NID_key_usage, "critical,digitalSignature"))
    return problem;
  if (auto problem = add_extension(cert.get(), NID_ext_key_usage, "serverAuth")) return problem;
  if (auto problem = add_extension(cert.get(), NID_subject_key_identifier, "hash")) return problem;
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return openssl_error("cannot sign the certificate");
  if (SSL_CTX_use_certificate(ctx, cert.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
    return openssl_error("cannot use the generated certificate");
  return std::nullopt;
}

void common_settings(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // A short TLS write must not wait for the peer to read: asio's engine copes
  // with partial writes, and a moving buffer is what our gathered writes give.
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

}  // namespace

TlsServerContext::TlsServerContext() : context_(asio::ssl::context::tls_server) {}

Expected<std::shared_ptr<TlsServerContext>, std::string> TlsServerContext::create(
    const ListenerTls& options) {
  std::shared_ptr<TlsServerContext> self(new TlsServerContext());
  SSL_CTX* ctx = self->context_.native_handle();
  common_settings(ctx);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);

  const auto problem = options.provider == ListenerTls::Provider::self_signed
                           ? use_self_signed(ctx, options.sans)
                           : use_key_pair(ctx, options.cert_file, options.key_file);
  if (problem) return Unexpected(*problem);

  if (options.client_cert != ListenerTls::ClientCert::none) {
    const std::string& ca = options.client_ca_file;
    if (ca.empty()) return Unexpected(std::string("client certificates need a client_ca_file"));
    if (auto unread = unreadable(ca)) return Unexpected(*unread);
    if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1)
      return Unexpected(openssl_error("cannot load CA certificates \"" + ca + "\""));
    // Tells clients which CAs we take, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str()))
      SSL_CTX_set_client_CA_list(ctx, names);
    int mode = SSL_VERIFY_PEER;
    if (options.client_cert == ListenerTls::ClientCert::require)
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  self->end_point_ = net::tls_server_end_point(SSL_CTX_get0_certificate(ctx));
  ERR_clear_error();
  return self;
}

TlsClientContext::TlsClientContext() : context_(asio::ssl::context::tls_client) {}

Expected<std::shared_ptr<TlsClientContext>, std::string> TlsClientContext::create(
    const RecipeTls& options, SslMode mode) {
  std::shared_ptr<TlsClientContext> self(new TlsClientContext());
  SSL_CTX* ctx = self->context_.native_handle();
  common_settings(ctx);
  const bool verify_mode = mode == SslMode::verify_ca || mode == SslMode::verify_full;
  if (options.insecure_skip_verify && verify_mode)
    return Unexpected(std::string("insecure_skip_verify contradicts a verify-ca/verify-full ssl_mode"));
  self->verify_chain_ = !options.insecure_skip_verify && (verify_mode || !options.root_cert_file.empty());
  self->verify_host_ = !options.insecure_skip_verify && mode == SslMode::verify_full;
  if (self->verify_chain_) {
    if (!options.root_cert_file.empty()) {
      if (auto problem = unreadable(options.root_cert_file)) return Unexpected(*problem);
      if (SSL_CTX_load_verify_locations(ctx, options.root_cert_file.c_str(), nullptr) != 1)
        return Unexpected(openssl_error("cannot load root certificates \"" + options.root_cert_file + "\""));
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return Unexpected(openssl_error("cannot load the system's root certificates"));
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    if (options.cert_file.empty() || options.key_file.empty())
      return Unexpected(std::string("a client certificate needs both cert_file and key_file"));
    if (auto problem = use_key_pair(ctx, options.cert_file, options.key_file))
      return Unexpected(*problem);
  }
  ERR_clear_error();
  return self;
}

std::optional<std::string> TlsClientContext::prepare(SSL* ssl, const std::string& host) const {
  const bool ip = is_ip_literal(host);
  if (!ip && !host.empty() && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
    return openssl_error("cannot set the TLS server name \"" + host + "\"");
  if (verify_host_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                      : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (ok != 1) return openssl_error("cannot check the server's name against \"" + host + "\"");
  }
  return std::nullopt;
}

std::vector<std::uint8_t> tls_server_end_point(X509* certificate) {
  if (certificate == nullptr) return {};
  int digest_nid = NID_undef;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(certificate), &digest_nid, nullptr) != 1) return {};
  const EVP_MD* md = nullptr;
  if (digest_nid == NID_md5 || digest_nid == NID_sha1)
    md = EVP_sha256();
  else if (digest_nid != NID_undef)
    md = EVP_get_digestbynid(digest_nid);
  if (md == nullptr) return {};
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(certificate, md, hash, &len) != 1) return {};
  return std::vector<std::uint8_t>(hash, hash + len);
}

std::string describe_handshake_error(SSL* ssl, const std::error_code& ec) {
  if (ssl != nullptr && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0) {
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK)
      return std::string("certificate verify failed: ") + X509_verify_cert_error_string(result);
  }
  return ec.message();
}

}  // namespace pggat::net
