// Recipe: how to dial one PostgreSQL server, and how many connections to keep to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "pggat/parameters.hpp"

namespace pggat {

// As libpq's sslmode. disable: plain. allow: plain, and TLS if the server refuses
// plain. prefer: TLS if the server offers it. require: TLS. verify-ca: TLS with a
// certificate chain that verifies. verify-full: also the host name matches.
enum class SslMode { disable, allow, prefer, require, verify_ca, verify_full };

// TLS towards a server (the recipe's `ssl` object).
struct RecipeTls {
  // No certificate check at all, even with root_cert_file (pggat's
  // `insecure_skip_verify` provider); refused with verify-ca/verify-full.
  bool insecure_skip_verify = false;
  // PEM CA certificates to verify the server with; empty: the system store.
  // Set with prefer/require, the chain is verified too (as libpq does).
  std::string root_cert_file{};
  // A client certificate (chain, leaf first) and its key, for servers that ask.
  std::string cert_file{};
  std::string key_file{};
};

struct Recipe {
  // "host:port", "[v6]:port", or a unix socket directory ("/dir" means
  // /dir/.s.PGSQL.5432, "/dir:5433" /dir/.s.PGSQL.5433).
  std::string address{};
  SslMode ssl_mode = SslMode::disable;
  RecipeTls ssl{};
  std::string username{};
  std::string password{};  // plaintext, or a stored md5/SCRAM secret
  std::string database{};
  Parameters parameters{};  // put in the server's startup packet
  int priority = 0;       // lower is preferred
  std::uint32_t min_connections = 0;
  std::uint32_t max_connections = 0;  // 0 means no limit
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(15);
};

}  // namespace pggat
