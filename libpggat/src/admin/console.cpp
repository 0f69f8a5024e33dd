// The admin console's protocol loop.
#include "admin/console.hpp"

#include <algorithm>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include "frontend/authenticate.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/version.hpp"

namespace pggat::admin {
namespace {

constexpr std::uint32_t int8_oid = 20;
constexpr std::uint32_t text_oid = 25;

void encode_table(const Table& table, proto::Buffer& out) {
  std::vector<proto::be::FieldDescription> fields;
  for (const Table::Column& c : table.columns)
    fields.push_back({.name = c.name,
                      .type_oid = c.integer ? int8_oid : text_oid,
                      .type_size = static_cast<std::int16_t>(c.integer ? 8 : -1),
                      .type_modifier = -1});
  proto::be::RowDescription::encode(out, fields);
  std::vector<std::optional<proto::Bytes>> cells;
  for (const auto& row : table.rows) {
    cells.clear();
    for (const auto& cell : row)
      cells.push_back(cell ? std::optional<proto::Bytes>(std::as_bytes(std::span(*cell))) : std::nullopt);
    proto::be::DataRow::encode(out, cells);
  }
  proto::be::CommandComplete{"SHOW"}.encode(out);
}

bool listed(const std::vector<std::string>& users, const std::string& user) {
  return std::find(users.begin(), users.end(), user) != users.end();
}

// What the loop does after an answer is encoded.
struct After {
  bool shutdown = false;            // stop pggat once the reply is out
  std::optional<std::string> drain;  // PAUSE: wait for this pool ("": every pool) to close its servers
  bool reload = false;              // RELOAD: answered once the App has tried it
};

// Whether the named pool ("": all) has no server left: a PAUSE is done.
bool drained(const std::vector<PoolSnapshot>& pools, const std::string& name) {
  return std::all_of(pools.begin(), pools.end(), [&](const PoolSnapshot& p) {
    if (!name.empty() && p.name != name) return true;
    const PoolStats& s = p.stats;
    return s.servers_active + s.servers_idle + s.servers_resetting + s.servers_connecting == 0;
  });
}

// The answer to one Query message, into out (without the ReadyForQuery).
After answer(std::string_view sql, bool admin, ConsoleHost& host, proto::Buffer& out) {
  const auto command = parse_command(sql);
  if (!command) {
    proto::be::ErrorResponse::encode(
        out, PgError::error(sqlstate::syntax_error,
                            "invalid command '" + std::string(sql) + "', use SHOW HELP;"));
    return {};
  }
  if (!admin && !read_only(*command)) {
    proto::be::ErrorResponse::encode(
        out, PgError::error(sqlstate::insufficient_privilege, "admin access needed"));
    return {};
  }
  using K = Command::Kind;
  switch (command->kind) {
    case K::show: {
      const std::string& what = command->what;
      std::optional<Table> table;
      if (what == "POOLS") table = show_pools(host.pools());
      else if (what == "STATS") table = show_stats(host.pools(), host.uptime());
      else if (what == "DATABASES") table = show_databases(host.pools());
      else if (what == "CLIENTS") table = show_clients(host.clients());
      else if (what == "SERVERS") table = show_servers(host.server_connections());
      else if (what == "CONFIG") table = show_config(host.config());
      else if (what == "VERSION") table = show_version();
      else if (what == "LISTS") table = show_lists(host.pools(), host.clients().size());
      if (what == "HELP") {
        PgError notice = PgError::error("00000", help_text());
        notice.severity = "NOTICE";
        proto::be::NoticeResponse::encode(out, notice);
        proto::be::CommandComplete{"SHOW"}.encode(out);
      } else if (table) {
        encode_table(*table, out);
      } else {
        proto::be::ErrorResponse::encode(
            out, PgError::error(sqlstate::syntax_error,
                                "invalid command '" + std::string(sql) + "', use SHOW HELP;"));
      }
      return {};
    }
    case K::shutdown:
      proto::be::CommandComplete{"SHUTDOWN"}.encode(out);
      return {.shutdown = true, .drain = std::nullopt};
    case K::kill:
      if (auto error = host.kill(command->what)) {
        proto::be::ErrorResponse::encode(out, PgError::error(sqlstate::invalid_catalog_name, *error));
        return {};
      }
      proto::be::CommandComplete{"KILL"}.encode(out);
      return {};
    case K::reload:
      return {.shutdown = false, .drain = std::nullopt, .reload = true};
    case K::pause:
    case K::resume: {
      const bool pausing = command->kind == K::pause;
      if (auto error = host.pause(command->what, pausing)) {
        proto::be::ErrorResponse::encode(out, PgError::error(sqlstate::invalid_catalog_name, *error));
        return {};
      }
      if (pausing) return {.shutdown = false, .drain = command->what};  // CommandComplete once drained
      proto::be::CommandComplete{"RESUME"}.encode(out);
      return {};
    }
    default:
      break;
  }
  proto::be::ErrorResponse::encode(
      out, PgError::error(sqlstate::feature_not_supported,
                          "'" + std::string(sql) + "' is not supported by this version of pggat yet"));
  return {};
}

}  // namespace

asio::awaitable<void> serve_console(detail::ClientSession& session, const AdminOptions& options,
                                    ConsoleHost& host, std::shared_ptr<spdlog::logger> log) {
  Client& client = session.client;
  client.credentials = options.credentials;
  if (auto error = co_await frontend::authenticate(session)) {
    (void)co_await client.send_error(*error);
    co_return;
  }
  const bool admin = listed(options.admin_users, client.user);
  if (!admin && !listed(options.stats_users, client.user)) {
    (void)co_await client.send_error(PgError::fatal(
        sqlstate::invalid_authorization,
        "user \"" + client.user + "\" may not use the admin console (not in admin_users or stats_users)"));
    co_return;
  }
  if (log) log->info("client #{}: user \"{}\" on the admin console", client.id(), client.user);

  proto::Buffer& out = session.conn.out;
  const std::string server_version = std::string(version_string) + "/pggat";
  for (const auto& [name, value] :
       {std::pair<std::string_view, std::string_view>{"server_version", server_version},
        {"server_encoding", "UTF8"},
        {"client_encoding", "UTF8"},
        {"DateStyle", "ISO"},
        {"integer_datetimes", "on"},
        {"standard_conforming_strings", "on"},
        {"application_name", "pggat"}})
    proto::be::ParameterStatus{name, value}.encode(out);
  proto::be::BackendKeyData{static_cast<std::int32_t>(session.key.process_id),
                            static_cast<std::int32_t>(session.key.secret_key)}
      .encode(out);
  proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(out);
  const auto greeted = co_await net::flush(session.conn);
  if (greeted) co_return;

  const proto::FrameRules rules{proto::Direction::frontend, proto::states::frontend_ready,
                                session.facts.max_message_size};
  bool extended_refused = false;  // an error was sent for this batch; waiting for its Sync
  for (;;) {
    auto r = co_await net::read_frame(session.conn, rules);
    if (r.ec) co_return;  // gone, or a malformed message: nothing more to say
    const char type = r.frame.type;
    const proto::Bytes body = r.frame.body;
    std::string sql;
    if (type == 'Q') {
      sql.assign(reinterpret_cast<const char*>(body.data()), body.size());
      if (!sql.empty() && sql.back() == '\0') sql.pop_back();
    }
    session.conn.in.consume(r.frame.total_size());
    After after;
    if (type == 'X') {
      session.left = true;
      co_return;
    }
    if (type == 'Q') {
      after = answer(sql, admin, host, out);
      if (after.drain) {
        // As PgBouncer's PAUSE: the reply comes once work in progress is done
        // and the servers are closed. Checked every few milliseconds; the
        // console is not on any hot path.
        asio::steady_timer tick(co_await asio::this_coro::executor);
        while (!drained(host.pools(), *after.drain)) {
          tick.expires_after(std::chrono::milliseconds(5));
          co_await tick.async_wait(net::use_nothrow);
          if (!session.conn.stream.is_open()) co_return;
        }
        if (log) log->info("client #{}: PAUSE {}done: servers closed", client.id(),
                           after.drain->empty() ? "" : *after.drain + " ");
        proto::be::CommandComplete{"PAUSE"}.encode(out);
      }
      if (after.reload) {
        if (auto error = co_await host.reload())
          proto::be::ErrorResponse::encode(out, PgError::error(sqlstate::config_file_error, *error));
        else
          proto::be::CommandComplete{"RELOAD"}.encode(out);
      }
      proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(out);
    } else if (type == 'S') {
      proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(out);
      extended_refused = false;
    } else if (!extended_refused) {
      extended_refused = true;
      proto::be::ErrorResponse::encode(
          out, PgError::error(sqlstate::feature_not_supported,
                              "the admin console speaks the simple query protocol only"));
    }
    if (out.empty()) continue;
    const auto flushed = co_await net::flush(session.conn);
    if (flushed) co_return;
    if (after.shutdown) {
      if (log) log->info("client #{}: SHUTDOWN from the admin console", client.id());
      host.shutdown();
    }
  }
}

}  // namespace pggat::admin
