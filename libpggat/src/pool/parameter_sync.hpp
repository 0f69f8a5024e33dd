// Giving a server the session parameters of the client it serves.
#pragma once

#include <optional>
#include <span>
#include <string>

#include <asio/awaitable.hpp>

#include "backend/server_connection.hpp"
#include "pggat/parameters.hpp"
#include "pggat/pg_error.hpp"

namespace pggat::pool {

// Sets every parameter in `wanted` whose value differs from what the server
// reported, in one round trip (set_config, which parses values the way a
// startup packet's are parsed). The server's error, if any, comes back as a
// FATAL PgError: PostgreSQL itself refuses a bad startup parameter that way.
[[nodiscard]] asio::awaitable<std::optional<PgError>> apply_parameters(
    backend::ServerConnection& server, const Parameters& wanted);

// The SQL apply_parameters sends (exposed for tests); empty when nothing differs.
[[nodiscard]] std::string parameters_query(const Parameters& current, const Parameters& wanted);

// Transaction pooling moves a client between servers. A server's state is what
// it reported (server.parameters) plus `settings`: the values pggat knows were
// set on it for parameters PostgreSQL does not report (search_path, say);
// absent there means the server's default.
//
// The SQL that gives the server `wanted`: set_config for each value that
// differs, RESET for each setting the client does not have. Empty when the
// server already matches.
[[nodiscard]] std::string sync_query(const Parameters& reported, const Parameters& settings,
                                     const Parameters& wanted);

// Runs sync_query on the server in one round trip and updates `settings`.
[[nodiscard]] asio::awaitable<std::optional<PgError>> sync_parameters(
    backend::ServerConnection& server, Parameters& settings, const Parameters& wanted);

// The current values of `names` on the server (one round trip), for parameters
// a client may have changed without PostgreSQL reporting it. A name the server
// does not know is left out. nullopt when the server failed.
[[nodiscard]] asio::awaitable<std::optional<Parameters>> read_settings(
    backend::ServerConnection& server, std::span<const std::string> names);

// The SQL read_settings sends (exposed for tests).
[[nodiscard]] std::string read_settings_query(std::span<const std::string> names);

}  // namespace pggat::pool
