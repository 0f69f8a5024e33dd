// Client authentication (trust).
#include "frontend/authenticate.hpp"

#include "pggat/proto/backend.hpp"

namespace pggat::frontend {

asio::awaitable<std::optional<PgError>> authenticate(detail::ClientSession& session) {
  proto::be::AuthenticationOk{}.encode(session.conn.out);
  const auto ec = co_await net::flush(session.conn);
  if (ec)
    co_return PgError::fatal(sqlstate::connection_failure, "client went away during authentication");
  co_return std::nullopt;
}

}  // namespace pggat::frontend
