// Client authentication: proving the client is who it says before it gets a server.
#pragma once

#include <optional>

#include <asio/awaitable.hpp>

#include "frontend/client_session.hpp"
#include "pggat/pg_error.hpp"

namespace pggat::frontend {

// Trust for now: AuthenticationOk straight away. Password checks (MD5, SCRAM)
// slot in here, chosen by the configured secret.
[[nodiscard]] asio::awaitable<std::optional<PgError>> authenticate(detail::ClientSession& session);

}  // namespace pggat::frontend
