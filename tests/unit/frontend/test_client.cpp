// TestClient: a ClientSession around an unopened socket, built out of line.
//
// Moving a never-opened Asio socket copies its (unset) reactor data; g++ 12
// flags that as -Wmaybe-uninitialized once it is inlined into the move. The
// value is never used for a closed socket, so the warning is silenced for this
// file only, before Asio's headers are read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// A C++ header before Asio's, as in net/connection.cpp: Asio 1.22 picks its
// handler allocator from a libstdc++ macro that only a C++ header defines.
#include <cstddef>

#include "test_client.hpp"

#include "frontend/client_session.hpp"

namespace pggat::test {

TestClient::TestClient(std::string user, std::string database, Parameters parameters)
    : session_(std::make_unique<detail::ClientSession>(
          net::Socket(io_), detail::ClientSession::Facts{}, BackendKey{1, 2})) {
  session_->client.user = std::move(user);
  session_->client.database = std::move(database);
  session_->client.parameters = std::move(parameters);
}

TestClient::~TestClient() = default;

Client& TestClient::client() {
  return session_->client;
}

}  // namespace pggat::test
