// Recipe: how to dial one PostgreSQL server, and how many connections to keep to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "pggat/parameters.hpp"

namespace pggat {

enum class SslMode { disable, allow, prefer, require, verify_ca, verify_full };

struct Recipe {
  // "host:port", "[v6]:port", or a unix socket directory ("/dir" means
  // /dir/.s.PGSQL.5432, "/dir:5433" /dir/.s.PGSQL.5433).
  std::string address{};
  SslMode ssl_mode = SslMode::disable;
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
