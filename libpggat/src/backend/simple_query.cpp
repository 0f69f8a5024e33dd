// pggat's own simple queries: send, read to ReadyForQuery, keep the first row.
#include "backend/simple_query.hpp"

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"

namespace pggat::backend {

asio::awaitable<QueryResult> run_query(ServerConnection& server, const std::string& sql) {
  QueryResult result;
  proto::fe::Query{sql}.encode(server.conn.out);
  server.state.on_client('Q');
  const auto flush_ec = co_await net::flush(server.conn);
  if (flush_ec) co_return result;
  bool have_row = false;
  while (server.state.pending_ready() > 0) {
    net::ReadFrameResult r = co_await net::read_frame(server.conn, server_frame_rules);
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

}  // namespace pggat::backend
