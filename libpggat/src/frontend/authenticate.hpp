// Client authentication: proving the client is who it says before it gets a server.
#pragma once

#include <optional>

#include <asio/awaitable.hpp>

#include "frontend/client_session.hpp"
#include "pggat/pg_error.hpp"

namespace pggat::frontend {

// Checks the client against its Credentials (none: trust), then queues
// AuthenticationOk in session.conn.out, unflushed: the next flush (the
// greeting, or an error) sends it. The error to send the client, if it failed; a failure for
// a wrong password or an unknown user comes after Credentials::failure_delay.
// The whole exchange is bounded by the listener's startup_timeout.
[[nodiscard]] asio::awaitable<std::optional<PgError>> authenticate(detail::ClientSession& session);

}  // namespace pggat::frontend
