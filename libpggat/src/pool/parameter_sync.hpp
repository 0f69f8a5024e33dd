// Giving a server the session parameters its client asked for at startup.
#pragma once

#include <optional>

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

}  // namespace pggat::pool
