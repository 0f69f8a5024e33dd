// A thin RAII layer over libpq, for what libpqxx 6.4 does not expose (COPY, notices, cancel).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace pggat::test {

class PqResult {
 public:
  explicit PqResult(PGresult* r) : r_(r, &PQclear) {}
  [[nodiscard]] ExecStatusType status() const { return PQresultStatus(r_.get()); }
  [[nodiscard]] bool ok() const;
  [[nodiscard]] std::string sqlstate() const;
  [[nodiscard]] std::string error() const;
  [[nodiscard]] int rows() const { return PQntuples(r_.get()); }
  [[nodiscard]] std::string value(int row = 0, int column = 0) const;
  [[nodiscard]] PGresult* get() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> r_;
};

class PqConnection {
 public:
  // Throws std::runtime_error with libpq's message when the connection fails.
  explicit PqConnection(const std::string& conninfo);
  ~PqConnection();
  PqConnection(const PqConnection&) = delete;
  PqConnection& operator=(const PqConnection&) = delete;

  [[nodiscard]] PGconn* get() const { return conn_; }
  PqResult exec(const std::string& sql);
  // Notices received so far, in order.
  [[nodiscard]] const std::vector<std::string>& notices() const { return notices_; }
  // Waits for a NOTIFY on this connection; returns "channel:payload" or "".
  std::string wait_notification(std::chrono::milliseconds timeout);

 private:
  static void on_notice(void* self, const PGresult* result);
  PGconn* conn_ = nullptr;
  std::vector<std::string> notices_;
};

// Sends a CancelRequest for the query `conn` is running (PQsendQuery) and
// waits for that query's result. Returns its SQLSTATE ("57014" when the
// cancel reached it; "" when it succeeded, or "no cancel sent"), and drains
// whatever results follow so the connection can be used again.
[[nodiscard]] std::string cancel_and_wait(PqConnection& conn);

// Connects and returns the libpq error text instead of throwing.
[[nodiscard]] std::string connection_error(const std::string& conninfo);

}  // namespace pggat::test
