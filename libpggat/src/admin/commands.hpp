// Admin console commands: parsing what an operator types, and the result
// tables, with PgBouncer's column names so its tooling reads them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pggat/app.hpp"

namespace pggat::admin {

struct Command {
  enum class Kind { show, pause, resume, reload, kill, shutdown, suspend, enable, disable, wait_close };
  Kind kind = Kind::show;
  std::string what;      // SHOW's subject, upper case ("POOLS"); others: their database, may be empty
};

// "show pools;" -> {show, "POOLS"}. nullopt: not a console command.
[[nodiscard]] std::optional<Command> parse_command(std::string_view text);

// Whether a stats user (not an admin) may run it: SHOW only, as in PgBouncer.
[[nodiscard]] bool read_only(const Command& command);

// A result set in text format: int8 or text columns.
struct Table {
  struct Column {
    std::string name;
    bool integer = false;
  };
  std::vector<Column> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

// A connected client as the console lists it.
struct ClientRow {
  std::uint64_t id = 0;
  std::string user{};
  std::string database{};
  std::string remote_address{};  // "127.0.0.1:50000", or a socket path
  std::string local_address{};
  std::string application_name{};
  bool tls = false;
  bool admin = false;  // on the console itself
  std::chrono::system_clock::time_point connected_at{};
};

// One "key value default changeable" row of SHOW CONFIG.
struct ConfigRow {
  std::string key;
  std::string value;
  std::string default_value;
  bool changeable = true;  // by a reload (RELOAD, SIGHUP)
};

[[nodiscard]] Table show_pools(const std::vector<PoolSnapshot>& pools);
// `uptime`: the averages are per second since start (PgBouncer's are over
// its last stats_period).
[[nodiscard]] Table show_stats(const std::vector<PoolSnapshot>& pools, std::chrono::nanoseconds uptime);
[[nodiscard]] Table show_databases(const std::vector<PoolSnapshot>& pools);
[[nodiscard]] Table show_clients(const std::vector<ClientRow>& clients);
// Each pool's servers, with the pool's name as PgBouncer's `database`.
struct PoolServers {
  std::string pool;
  std::vector<ServerStats> servers;
};
[[nodiscard]] Table show_servers(const std::vector<PoolServers>& pools);
[[nodiscard]] Table show_config(const std::vector<ConfigRow>& rows);
[[nodiscard]] Table show_version();
[[nodiscard]] Table show_lists(const std::vector<PoolSnapshot>& pools, std::size_t clients);
// SHOW HELP's text, sent as a notice.
[[nodiscard]] std::string help_text();

}  // namespace pggat::admin
