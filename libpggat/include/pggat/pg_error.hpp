// A PostgreSQL error as a client sees it: severity, SQLSTATE, message.
#pragma once

#include <string>
#include <string_view>

#include "pggat/export.hpp"

namespace pggat {

// SQLSTATE codes pggat itself raises (PostgreSQL appendix A).
namespace sqlstate {
inline constexpr std::string_view protocol_violation = "08P01";
inline constexpr std::string_view connection_failure = "08006";
inline constexpr std::string_view connection_exception = "08000";
inline constexpr std::string_view invalid_authorization = "28000";
inline constexpr std::string_view invalid_password = "28P01";
inline constexpr std::string_view too_many_connections = "53300";
inline constexpr std::string_view insufficient_resources = "53000";
inline constexpr std::string_view invalid_catalog_name = "3D000";  // unknown database
inline constexpr std::string_view feature_not_supported = "0A000";
inline constexpr std::string_view query_canceled = "57014";
inline constexpr std::string_view admin_shutdown = "57P01";
inline constexpr std::string_view cannot_connect_now = "57P03";
inline constexpr std::string_view internal_error = "XX000";
inline constexpr std::string_view invalid_parameter_value = "22023";
inline constexpr std::string_view serialization_failure = "40001";
inline constexpr std::string_view syntax_error = "42601";
inline constexpr std::string_view insufficient_privilege = "42501";
inline constexpr std::string_view config_file_error = "F0000";
}  // namespace sqlstate

struct PGGAT_API PgError {
  std::string severity = "FATAL";  // ERROR, FATAL or PANIC
  std::string code{};                // SQLSTATE, five characters
  std::string message{};
  std::string detail{};  // optional
  std::string hint{};    // optional

  static PgError fatal(std::string_view code, std::string message) {
    return PgError{"FATAL", std::string(code), std::move(message), {}, {}};
  }
  static PgError error(std::string_view code, std::string message) {
    return PgError{"ERROR", std::string(code), std::move(message), {}, {}};
  }
  [[nodiscard]] bool is_fatal() const { return severity == "FATAL" || severity == "PANIC"; }
};

}  // namespace pggat
