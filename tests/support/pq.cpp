// libpq helpers for integration tests.
#include "support/pq.hpp"

#include <poll.h>

#include <stdexcept>

namespace pggat::test {

bool PqResult::ok() const {
  const auto s = status();
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_COPY_IN ||
         s == PGRES_COPY_OUT || s == PGRES_EMPTY_QUERY;
}

std::string PqResult::sqlstate() const {
  const char* s = PQresultErrorField(r_.get(), PG_DIAG_SQLSTATE);
  return s != nullptr ? s : "";
}

std::string PqResult::error() const { return PQresultErrorMessage(r_.get()); }

std::string PqResult::value(int row, int column) const {
  return PQgetvalue(r_.get(), row, column);
}

PqConnection::PqConnection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn_);
    PQfinish(conn_);
    throw std::runtime_error(message);
  }
  PQsetNoticeReceiver(conn_, &PqConnection::on_notice, this);
}

PqConnection::~PqConnection() { PQfinish(conn_); }

PqResult PqConnection::exec(const std::string& sql) { return PqResult(PQexec(conn_, sql.c_str())); }

void PqConnection::on_notice(void* self, const PGresult* result) {
  static_cast<PqConnection*>(self)->notices_.emplace_back(PQresultErrorMessage(result));
}

std::string PqConnection::wait_notification(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    PQconsumeInput(conn_);
    if (PGnotify* n = PQnotifies(conn_)) {
      std::string s = std::string(n->relname) + ":" + n->extra;
      PQfreemem(n);
      return s;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd p{PQsocket(conn_), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

std::string connection_error(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  std::string message = PQstatus(c) == CONNECTION_OK ? "" : PQerrorMessage(c);
  PQfinish(c);
  return message;
}

std::string cancel_and_wait(PqConnection& conn) {
  PGcancel* cancel = PQgetCancel(conn.get());
  char err[256];
  const bool sent = cancel != nullptr && PQcancel(cancel, err, sizeof err) == 1;
  if (cancel) PQfreeCancel(cancel);
  if (!sent) return "no cancel sent";
  std::string state;
  if (PGresult* r = PQgetResult(conn.get())) {
    if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) state = s;
    PQclear(r);
  }
  while (PGresult* r = PQgetResult(conn.get())) PQclear(r);
  return state;
}

}  // namespace pggat::test
