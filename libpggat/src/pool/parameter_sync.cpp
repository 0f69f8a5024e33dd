// Parameter sync: a client's session parameters applied to the server it gets.
#include "pool/parameter_sync.hpp"

#include "backend/simple_query.hpp"

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"

namespace pggat::pool {
namespace {

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

using backend::QueryResult;
using backend::run_query;

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
