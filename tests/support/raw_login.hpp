// Logging a RawClient in, with trust or SCRAM-SHA-256, to reach the ready state.
#pragma once

#include <string_view>
#include <vector>

#include "support/raw_client.hpp"

namespace pggat::test {

// Sends a StartupMessage for user/database and answers the authentication the
// peer asks for (none, or SCRAM-SHA-256 with `password`). Returns every
// message after authentication up to and including the first ReadyForQuery
// (ParameterStatus, BackendKeyData, ...). Throws std::runtime_error with the
// server's message when the login fails or the peer goes quiet.
std::vector<RawMessage> raw_login(RawClient& client, std::string_view user,
                                  std::string_view password, std::string_view database);

}  // namespace pggat::test
