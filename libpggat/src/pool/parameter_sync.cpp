// Initial parameter sync: startup parameters of the client applied to its server.
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

}  // namespace

std::string parameters_query(const Parameters& current, const Parameters& wanted) {
  std::string sql;
  for (const auto& [name, value] : wanted) {
    const std::string* have = current.find(name);
    if (have != nullptr && *have == value) continue;
    sql += sql.empty() ? "SELECT " : ", ";
    sql += "pg_catalog.set_config(";
    append_literal(sql, name);
    sql += ", ";
    append_literal(sql, value);
    sql += ", false)";
  }
  return sql;
}

asio::awaitable<std::optional<PgError>> apply_parameters(backend::ServerConnection& server,
                                                         const Parameters& wanted) {
  const std::string sql = parameters_query(server.parameters, wanted);
  if (sql.empty()) co_return std::nullopt;
  proto::fe::Query{sql}.encode(server.conn.out);
  server.state.on_client('Q');
  const auto flush_ec = co_await net::flush(server.conn);
  if (flush_ec)
    co_return PgError::fatal(sqlstate::connection_failure, "lost the server connection while setting parameters");
  std::optional<PgError> error;
  while (server.state.pending_ready() > 0) {
    net::ReadFrameResult r = co_await net::read_frame(server.conn, server_rules);
    if (r.ec)
      co_return PgError::fatal(sqlstate::connection_failure, "lost the server connection while setting parameters");
    const proto::Frame f = r.frame;
    server.observe_server_message(f.type, f.body);
    if (f.type == 'E' && !error) {
      if (const auto e = proto::be::ErrorResponse::decode(f.body)) {
        error = e->to_pg_error();
        error->severity = "FATAL";
      }
    }
    server.conn.in.consume(f.total_size());
  }
  co_return error;
}

}  // namespace pggat::pool
