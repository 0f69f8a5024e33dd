// Parameter sync: a client's session parameters applied to the server it gets.
#include "pool/parameter_sync.hpp"

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"

namespace pggat::pool {
namespace {

const proto::FrameRules server_rules{proto::Direction::backend, proto::states::backend_ready,
                                     proto::default_max_message_length};

// E'...' literals read the same whatever standard_conforming_strings is.
void append_literal(std::string& sql, std::string_view value) {
  sql += "E'";
  for (char c : value) {
    if (c == '\\' || c == '\'') sql += c;
    sql += c;
  }
  sql += '\'';
}

void append_set(std::string& sql, std::string_view name, std::string_view value) {
  sql += sql.empty() ? "SELECT " : ", ";
  sql += "pg_catalog.set_config(";
  append_literal(sql, name);
  sql += ", ";
  append_literal(sql, value);
  sql += ", false)";
}

void append_identifier(std::string& sql, std::string_view name) {
  sql += '"';
  for (char c : name) {
    if (c == '"') sql += c;
    sql += c;
  }
  sql += '"';
}

struct QueryResult {
  bool ok = false;  // the server answered up to ReadyForQuery
  std::optional<PgError> error;
  std::vector<std::optional<std::string>> first_row;
};

// Runs pggat's own simple query; its replies never reach the client.
asio::awaitable<QueryResult> run_query(backend::ServerConnection& server, const std::string& sql) {
  QueryResult result;
  proto::fe::Query{sql}.encode(server.conn.out);
  server.state.on_client('Q');
  const auto flush_ec = co_await net::flush(server.conn);
  if (flush_ec) co_return result;
  bool have_row = false;
  while (server.state.pending_ready() > 0) {
    net::ReadFrameResult r = co_await net::read_frame(server.conn, server_rules);
    if (r.ec) co_return result;
    const proto::Frame f = r.frame;
    server.observe_server_message(f.type, f.body);
    if (f.type == 'E' && !result.error) {
      if (const auto e = proto::be::ErrorResponse::decode(f.body)) result.error = e->to_pg_error();
    } else if (f.type == 'D' && !have_row) {
      if (const auto row = proto::be::DataRow::decode(f.body)) {
        have_row = true;
        for (const auto& column : row->columns) {
          if (column) result.first_row.emplace_back(std::string(proto::as_string_view(*column)));
          else result.first_row.emplace_back(std::nullopt);
        }
      }
    }
    server.conn.in.consume(f.total_size());
  }
  result.ok = true;
  co_return result;
}

PgError lost_while(std::string_view what) {
  return PgError::fatal(sqlstate::connection_failure,
                        "lost the server connection while " + std::string(what));
}

}  // namespace

std::string parameters_query(const Parameters& current, const Parameters& wanted) {
  std::string sql;
  for (const auto& [name, value] : wanted) {
    const std::string* have = current.find(name);
    if (have != nullptr && *have == value) continue;
    append_set(sql, name, value);
  }
  return sql;
}

asio::awaitable<std::optional<PgError>> apply_parameters(backend::ServerConnection& server,
                                                         const Parameters& wanted) {
  const std::string sql = parameters_query(server.parameters, wanted);
  if (sql.empty()) co_return std::nullopt;
  QueryResult r = co_await run_query(server, sql);
  if (!r.ok) co_return lost_while("setting parameters");
  if (r.error) r.error->severity = "FATAL";
  co_return r.error;
}

std::string sync_query(const Parameters& reported, const Parameters& settings,
                       const Parameters& wanted) {
  std::string sql;
  for (const auto& [name, value] : wanted) {
    const std::string* have = reported.find(name);
    if (have == nullptr) have = settings.find(name);
    if (have != nullptr && *have == value) continue;
    append_set(sql, name, value);
  }
  std::string resets;
  for (const auto& [name, value] : settings) {
    if (wanted.find(name) != nullptr || reported.find(name) != nullptr) continue;
    resets += "; RESET ";
    append_identifier(resets, name);
  }
  if (sql.empty() && !resets.empty()) return resets.substr(2);
  return sql + resets;
}

asio::awaitable<std::optional<PgError>> sync_parameters(backend::ServerConnection& server,
                                                        Parameters& settings,
                                                        const Parameters& wanted) {
  const std::string sql = sync_query(server.parameters, settings, wanted);
  if (sql.empty()) co_return std::nullopt;
  QueryResult r = co_await run_query(server, sql);
  if (!r.ok) co_return lost_while("setting parameters");
  if (r.error) co_return r.error;
  // What the server reports it tracks itself; the rest is now as wanted.
  Parameters next;
  for (const auto& [name, value] : wanted)
    if (server.parameters.find(name) == nullptr) next.set(name, value);
  settings = std::move(next);
  co_return std::nullopt;
}

std::string read_settings_query(std::span<const std::string> names) {
  std::string sql;
  for (const auto& name : names) {
    sql += sql.empty() ? "SELECT " : ", ";
    sql += "pg_catalog.current_setting(";
    append_literal(sql, name);
    sql += ", true)";
  }
  return sql;
}

asio::awaitable<std::optional<Parameters>> read_settings(backend::ServerConnection& server,
                                                         std::span<const std::string> names) {
  Parameters values;
  if (names.empty()) co_return values;
  QueryResult r = co_await run_query(server, read_settings_query(names));
  if (!r.ok || r.error || r.first_row.size() != names.size()) co_return std::nullopt;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (r.first_row[i]) values.set(names[i], *r.first_row[i]);
  co_return values;
}

}  // namespace pggat::pool
