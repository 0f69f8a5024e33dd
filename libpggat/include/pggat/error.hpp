// Error codes of the data path: values, not exceptions.
#pragma once

#include <string>
#include <system_error>

#include "pggat/export.hpp"

namespace pggat {

enum class errc {
  ok = 0,
  protocol_violation = 1,  // malformed or out-of-place message
  message_too_large,       // length field above the limit for that message
  unsupported_protocol,    // startup packet with a protocol we do not speak
  connection_closed,       // the peer closed the connection
  timeout,                 // a deadline passed
  auth_failed,             // authentication was refused
  unsupported_auth,        // the server asked for an auth method we do not do
  server_error,            // the server answered with an ErrorResponse
  connect_failed,          // dialing a server failed
  pool_closed,             // the pool shut down while we waited
  acquire_timeout,         // no server became free within client_acquire_timeout
  canceled,                // the operation was canceled (shutdown, etc.)
};

PGGAT_API const std::error_category& pggat_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), pggat_category()};
}

}  // namespace pggat

template <>
struct std::is_error_code_enum<pggat::errc> : std::true_type {};
