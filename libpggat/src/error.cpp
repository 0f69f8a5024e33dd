// The pggat error category: names for errc values.
#include "pggat/error.hpp"

namespace pggat {
namespace {

class PggatCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "pggat"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok: return "success";
      case errc::protocol_violation: return "protocol violation";
      case errc::message_too_large: return "message too large";
      case errc::unsupported_protocol: return "unsupported protocol version";
      case errc::connection_closed: return "connection closed by peer";
      case errc::timeout: return "timed out";
      case errc::auth_failed: return "authentication failed";
      case errc::unsupported_auth: return "unsupported authentication method";
      case errc::server_error: return "server reported an error";
      case errc::connect_failed: return "could not connect to server";
      case errc::pool_closed: return "pool closed";
      case errc::acquire_timeout: return "timed out waiting for a server connection";
      case errc::canceled: return "canceled";
    }
    return "unknown pggat error";
  }
};

}  // namespace

const std::error_category& pggat_category() noexcept {
  static const PggatCategory category;
  return category;
}

}  // namespace pggat
