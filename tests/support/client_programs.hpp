// Client programs (psql, pgbench) run to completion against a pooler, with
// none of the caller's PG* settings, and HTTP scrapes of a metrics endpoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/pggat_process.hpp"

namespace pggat::test {

// PostgreSQL 15's own client binaries when installed there, else PATH's.
[[nodiscard]] std::string pg_program(const std::string& name);

// Unsets every PG* variable that could send a client elsewhere or change what it prints.
[[nodiscard]] Environment client_env();

RunResult run_client(std::vector<std::string> argv,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

// `psql CONNINFO -Atc SQL`, without ~/.psqlrc and never prompting for a password.
RunResult psql(const std::string& conninfo, const std::string& sql);

// pgbench ARGS against 127.0.0.1:port, user and database app.
RunResult run_pgbench(std::uint16_t port, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));

// pgbench's "number of transactions actually processed: N/M" line.
[[nodiscard]] std::string processed_line(const std::string& out);
// N from that line (-1 without one): with -T there is no M to compare with.
[[nodiscard]] long transactions_processed(const std::string& out);

// The body of GET http://address/path ("127.0.0.1:9930"), or nullopt when
// the connection fails, the status is not 200 or it takes over `timeout`.
[[nodiscard]] std::optional<std::string> http_get(const std::string& address, const std::string& path,
                                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace pggat::test
