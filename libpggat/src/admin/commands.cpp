// Admin console commands and their tables.
#include "admin/commands.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "net/address.hpp"
#include "pggat/version.hpp"

namespace pggat::admin {
namespace {

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ';') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Table::Column text(std::string name) { return {std::move(name), false}; }
Table::Column integer(std::string name) { return {std::move(name), true}; }

std::optional<std::string> num(std::uint64_t v) { return std::to_string(v); }
std::optional<std::string> num(std::int64_t v) { return std::to_string(v); }

std::int64_t micros(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

// PgBouncer's timestamp form: "2026-12-02 06:39:27 UTC".
std::string timestamp(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// "host:port" or a socket path, split as PgBouncer shows them.
std::pair<std::string, std::string> host_port(const std::string& address) {
  const auto parsed = net::parse_address(address);
  if (!parsed || parsed->is_unix()) return {address, ""};
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return {address, ""};
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {host, address.substr(colon + 1)};
}

const RecipeStats* primary_recipe(const PoolSnapshot& p) {
  for (const RecipeStats& r : p.recipes)
    if (!r.replica) return &r;
  return nullptr;
}

// A text cell that is NULL when empty (a port a unix socket has not).
std::optional<std::string> or_null(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

// SHOW CLIENTS and SHOW SERVERS share PgBouncer's columns.
std::vector<Table::Column> connection_columns() {
  return {text("type"),         text("user"),         text("database"),   text("state"),
          text("addr"),         integer("port"),      text("local_addr"), integer("local_port"),
          text("connect_time"), text("request_time"), integer("wait"),    integer("wait_us"),
          integer("close_needed"), text("ptr"),       text("link"),       integer("remote_pid"),
          text("tls"),          text("application_name")};
}

}  // namespace

std::optional<Command> parse_command(std::string_view text) {
  const std::vector<std::string> w = words(text);
  if (w.empty() || w.size() > 2) return std::nullopt;
  const std::string verb = upper(w[0]);
  const std::string arg = w.size() > 1 ? w[1] : std::string();
  using K = Command::Kind;
  if (verb == "SHOW") {
    if (arg.empty()) return std::nullopt;
    return Command{K::show, upper(arg)};
  }
  static const std::pair<const char*, K> verbs[] = {
      {"PAUSE", K::pause},     {"RESUME", K::resume},   {"RELOAD", K::reload},
      {"KILL", K::kill},       {"SHUTDOWN", K::shutdown}, {"SUSPEND", K::suspend},
      {"ENABLE", K::enable},   {"DISABLE", K::disable}, {"WAIT_CLOSE", K::wait_close}};
  for (const auto& [name, kind] : verbs) {
    if (verb != name) continue;
    // These take no argument.
    if (!arg.empty() && (kind == K::reload || kind == K::shutdown || kind == K::suspend)) return std::nullopt;
    // These need one.
    if (arg.empty() && (kind == K::kill || kind == K::enable || kind == K::disable)) return std::nullopt;
    return Command{kind, arg};
  }
  return std::nullopt;
}

bool read_only(const Command& command) { return command.kind == Command::Kind::show; }

Table show_pools(const std::vector<PoolSnapshot>& pools) {
  Table t;
  t.columns = {text("database"),           text("user"),         integer("cl_active"),
               integer("cl_waiting"),      integer("cl_active_cancel_req"),
               integer("cl_waiting_cancel_req"), integer("sv_active"), integer("sv_active_cancel"),
               integer("sv_being_canceled"), integer("sv_idle"),   integer("sv_used"),
               integer("sv_tested"),       integer("sv_login"),  integer("maxwait"),
               integer("maxwait_us"),      text("pool_mode")};
  for (const PoolSnapshot& p : pools) {
    const PoolStats& s = p.stats;
    const std::int64_t wait_us = micros(s.longest_wait);
    t.rows.push_back({p.name, p.user, num(s.clients - std::min(s.clients, s.clients_waiting)),
                      num(s.clients_waiting), num(std::uint64_t{0}), num(std::uint64_t{0}),
                      num(s.servers_active), num(std::uint64_t{0}), num(std::uint64_t{0}),
                      num(s.servers_idle), num(s.servers_resetting), num(std::uint64_t{0}),
                      num(s.servers_connecting), num(wait_us / 1'000'000), num(wait_us % 1'000'000),
                      p.description.mode});
  }
  return t;
}

Table show_stats(const std::vector<PoolSnapshot>& pools, std::chrono::nanoseconds uptime) {
  Table t;
  t.columns = {text("database"),          integer("total_xact_count"), integer("total_query_count"),
               integer("total_received"),   integer("total_sent"),       integer("total_xact_time"),
               integer("total_query_time"), integer("total_wait_time"),  integer("avg_xact_count"),
               integer("avg_query_count"),  integer("avg_recv"),         integer("avg_sent"),
               integer("avg_xact_time"),    integer("avg_query_time"),   integer("avg_wait_time")};
  const auto secs = std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(uptime).count());
  const auto per_second = [&](std::uint64_t v) { return num(static_cast<std::int64_t>(v) / secs); };
  const auto mean_us = [](std::chrono::nanoseconds sum, std::uint64_t n) {
    return num(n == 0 ? std::int64_t{0} : micros(sum) / static_cast<std::int64_t>(n));
  };
  for (const PoolSnapshot& p : pools) {
    const PoolStats& s = p.stats;
    const std::uint64_t waits = s.acquire_time.count();
    t.rows.push_back({p.name, num(s.transactions), num(s.queries), num(s.bytes_received),
                      num(s.bytes_sent), num(micros(s.transaction_time.sum)),
                      num(micros(s.query_time.sum)), num(micros(s.acquire_time.sum)),
                      per_second(s.transactions), per_second(s.queries), per_second(s.bytes_received),
                      per_second(s.bytes_sent), mean_us(s.transaction_time.sum, s.transaction_time.count()),
                      mean_us(s.query_time.sum, s.query_time.count()),
                      mean_us(s.acquire_time.sum, waits)});
  }
  return t;
}

Table show_databases(const std::vector<PoolSnapshot>& pools) {
  Table t;
  t.columns = {text("name"),          text("host"),           integer("port"),
               text("database"),      text("force_user"),     integer("pool_size"),
               integer("min_pool_size"), integer("reserve_pool"), text("pool_mode"),
               integer("max_connections"), integer("current_connections"), integer("paused"),
               integer("disabled")};
  for (const PoolSnapshot& p : pools) {
    const RecipeStats* r = primary_recipe(p);
    const auto [host, port] = r ? host_port(r->address) : std::pair<std::string, std::string>{};
    std::uint64_t open = 0;
    for (const RecipeStats& each : p.recipes) open += each.servers_open;
    t.rows.push_back({p.name, host, port.empty() ? std::nullopt : std::optional<std::string>(port),
                      p.database, p.user, num(r ? r->max_connections : 0),
                      num(r ? r->min_connections : 0), num(std::uint64_t{0}), p.description.mode,
                      num(std::uint64_t{0}), num(open), num(std::uint64_t{p.stats.paused ? 1u : 0u}),
                      num(std::uint64_t{0})});
  }
  return t;
}

Table show_clients(const std::vector<ClientRow>& clients) {
  Table t;
  t.columns = connection_columns();
  for (const ClientRow& c : clients) {
    const auto [addr, port] = host_port(c.remote_address);
    const auto [local_addr, local_port] = host_port(c.local_address);
    t.rows.push_back({"C", c.user, c.database, "active", addr, or_null(port), local_addr, or_null(local_port),
                      timestamp(c.connected_at), timestamp(c.connected_at), num(std::uint64_t{0}),
                      num(std::uint64_t{0}), num(std::uint64_t{0}), "#" + std::to_string(c.id), "",
                      num(std::uint64_t{0}), c.tls ? "TLS" : "", c.application_name});
  }
  return t;
}

Table show_servers(const std::vector<PoolServers>& pools) {
  Table t;
  t.columns = connection_columns();
  for (const PoolServers& p : pools) {
    for (const ServerStats& s : p.servers) {
      const auto [addr, port] = host_port(s.address);
      const char* state = s.state == ServerStats::State::active ? "active"
                          : s.state == ServerStats::State::idle ? "idle"
                                                                : "used";
      t.rows.push_back({"S", s.username, p.pool, state, addr, or_null(port), std::nullopt,
                        std::nullopt, timestamp(s.connected_at), timestamp(s.state_since),
                        num(std::uint64_t{0}), num(std::uint64_t{0}), num(std::uint64_t{0}),
                        "#" + std::to_string(s.id),
                        s.client_id != 0 ? std::optional<std::string>("#" + std::to_string(s.client_id))
                                         : std::optional<std::string>(""),
                        num(static_cast<std::int64_t>(s.backend_pid)), "", ""});
    }
  }
  return t;
}

Table show_config(const std::vector<ConfigRow>& rows) {
  Table t;
  t.columns = {text("key"), text("value"), text("default"), text("changeable")};
  for (const ConfigRow& r : rows)
    t.rows.push_back({r.key, r.value, r.default_value, r.changeable ? "yes" : "no"});
  return t;
}

Table show_version() {
  Table t;
  t.columns = {text("version")};
  t.rows.push_back({std::string("pggat ") + version_string});
  return t;
}

Table show_lists(const std::vector<PoolSnapshot>& pools, std::size_t clients) {
  Table t;
  t.columns = {text("list"), integer("items")};
  std::uint64_t idle = 0, active = 0, used = 0, login = 0, waiting = 0;
  for (const PoolSnapshot& p : pools) {
    idle += p.stats.servers_idle;
    active += p.stats.servers_active;
    used += p.stats.servers_resetting;
    login += p.stats.servers_connecting;
    waiting += p.stats.clients_waiting;
  }
  t.rows = {{"databases", num(static_cast<std::uint64_t>(pools.size()))},
            {"pools", num(static_cast<std::uint64_t>(pools.size()))},
            {"used_clients", num(static_cast<std::uint64_t>(clients))},
            {"waiting_clients", num(waiting)},
            {"used_servers", num(active + used)},
            {"idle_servers", num(idle)},
            {"login_servers", num(login)}};
  return t;
}

std::string help_text() {
  return "Console usage\n"
         "\tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|STATS|LISTS|VERSION\n"
         "\tPAUSE [<db>]\n"
         "\tRESUME [<db>]\n"
         "\tRELOAD\n"
         "\tKILL <db>\n"
         "\tSHUTDOWN";
}

}  // namespace pggat::admin
