// Config loading: pggat's JSON to validated objects, with errors that name the JSON path.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/common.h>

#include "pggat/credentials.hpp"
#include "pggat/export.hpp"
#include "pggat/server.hpp"

namespace pggat {

class Registry;

// "servers[0].routes[1].handle.recipe.address: missing"
class PGGAT_API ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string path, std::string problem);
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const std::string& problem() const { return problem_; }

 private:
  std::string path_{};
  std::string problem_{};
};

// A JSON value together with its path in the config, so every error can say where.
class PGGAT_API ConfigNode {
 public:
  ConfigNode(const nlohmann::json& value, std::string path);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const nlohmann::json& json() const { return *value_; }

  [[nodiscard]] bool has(std::string_view key) const;
  // A required member; throws "<path>.<key>: missing".
  [[nodiscard]] ConfigNode at(std::string_view key) const;
  [[nodiscard]] std::optional<ConfigNode> find(std::string_view key) const;
  // Array elements, each with its "[i]" path.
  [[nodiscard]] std::vector<ConfigNode> elements() const;

  [[nodiscard]] std::string as_string() const;
  [[nodiscard]] bool as_bool() const;
  [[nodiscard]] std::int64_t as_int(std::int64_t min, std::int64_t max) const;
  // A Go-style duration string or integer nanoseconds; negative is an error.
  [[nodiscard]] std::chrono::nanoseconds as_duration() const;
  [[nodiscard]] std::vector<std::string> as_string_list() const;

  // Optional members with defaults.
  [[nodiscard]] std::string get_string(std::string_view key, std::string fallback = {}) const;
  [[nodiscard]] bool get_bool(std::string_view key, bool fallback) const;
  [[nodiscard]] std::chrono::nanoseconds get_duration(std::string_view key,
                                                      std::chrono::nanoseconds fallback) const;

  // Throws ConfigError for the first member not in `known`, listing them.
  void check_keys(std::initializer_list<std::string_view> known) const;
  void check_keys(std::span<const std::string_view> known) const;
  [[noreturn]] void fail(std::string problem) const;

 private:
  const nlohmann::json* value_;
  std::string path_{};
};

// The Prometheus endpoint (top-level "metrics").
struct MetricsOptions {
  std::string listen{};            // "host:port"; port 0 picks a free one
  std::string path = "/metrics";   // where the figures are served
  bool operator==(const MetricsOptions&) const = default;
};

// The admin console (top-level "admin"): clients that ask for `database`
// are answered by pggat (SHOW POOLS, SHOW STATS, ...), not routed.
struct AdminOptions {
  std::string database = "pggat";
  std::vector<std::string> admin_users{};  // may run every command
  std::vector<std::string> stats_users{};  // may run SHOW only
  // What console users must prove (never trust: the console can stop pggat).
  std::shared_ptr<const Credentials> credentials{};
};

// Logging (top-level "log"); the CLI makes its logger from it (make_logger).
struct LogOptions {
  enum class Format { text, json };
  spdlog::level::level_enum level = spdlog::level::info;
  Format format = Format::text;
  // A line per client connect and disconnect: user, database, address, and
  // for the disconnect how long it stayed.
  bool connections = false;
};

// A whole pggat config: what `pggat run` runs.
struct PGGAT_API Config {
  std::vector<Server> servers{};
  std::chrono::nanoseconds stat_log_period{0};  // 0: no stat line
  std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds(30);
  // Threads serving client connections, the host's executor included.
  // 0: one per core the process may run on.
  std::size_t threads = 0;
  // How busy, in percent of its time, a thread gets before new clients go to
  // the next one; a client between units on a thread past it moves to one
  // under half of it. 0: round robin, no moves.
  std::uint32_t thread_fill = 75;
  std::optional<MetricsOptions> metrics{};  // none: no HTTP endpoint
  std::optional<AdminOptions> admin{};      // none: no admin console
  LogOptions log{};
};

// Accepts the bare app object and the Go version's {"apps": {"pggat": {...}}}.
// Throws ConfigError; nothing is started, so this is also `pggat validate`.
[[nodiscard]] PGGAT_API Config load_config(const nlohmann::json& json, const Registry& registry);
// Reads and parses a file first; JSON syntax errors are ConfigErrors too.
[[nodiscard]] PGGAT_API Config load_config_file(const std::filesystem::path& file,
                                                const Registry& registry);

}  // namespace pggat
