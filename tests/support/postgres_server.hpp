// A throwaway PostgreSQL 15 cluster for the tests, one per test process.
#pragma once

#include <pqxx/pqxx>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace pggat::test {

// The roles scripts/throwaway-postgres.sh creates, with the pg_hba.conf
// method each one has to authenticate with.
struct Role {
  std::string_view user;
  std::string_view password;
};
inline constexpr Role superuser_role{"postgres", "postgres-pass"};  // scram-sha-256
inline constexpr Role app_role{"app", "app-pass"};                  // scram-sha-256, owns db app
inline constexpr Role md5_role{"md5user", "md5-pass"};              // md5, stored as MD5 hash
inline constexpr Role plain_role{"plainuser", "plain-pass"};        // password (cleartext)

// Started on the first call to instance() by running
// `scripts/throwaway-postgres.sh start <mkdtemp dir>`; stopped and removed
// when the process exits. A watchdog child stops it too if the process dies
// by a signal (Ctrl-C, a meson timeout, a crash), so no cluster outlives its
// test binary. If starting fails, every instance() call throws the reason.
class PostgresServer {
 public:
  [[nodiscard]] static PostgresServer& instance();

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

  [[nodiscard]] const std::string& host() const { return host_; }  // "127.0.0.1"
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string address() const;  // "127.0.0.1:PORT"
  [[nodiscard]] const std::string& socket_dir() const { return socket_dir_; }
  [[nodiscard]] std::string data_dir() const { return dir_ + "/data"; }
  [[nodiscard]] std::string log_file() const { return dir_ + "/postgresql.log"; }

  // libpq connection strings, over TCP and over the unix socket.
  [[nodiscard]] std::string conninfo(std::string_view user, std::string_view password,
                                     std::string_view dbname = "app") const;
  [[nodiscard]] std::string socket_conninfo(std::string_view user, std::string_view password,
                                            std::string_view dbname = "app") const;

  // Runs sql as the superuser outside a transaction block (so CREATE
  // DATABASE works) on its own connection.
  pqxx::result execute(const std::string& sql, std::string_view dbname = "postgres") const;

  // Terminates every backend of user (but not the caller's); returns how many.
  std::size_t terminate_backends_of(std::string_view user) const;

  // Turns TLS on with this certificate and key (PEM files, copied into the
  // data directory for the server's user) and waits until new connections
  // see it; disable_ssl() turns it off again the same way. The cluster starts
  // with ssl = off; a test that turns it on must turn it off (SslGuard).
  void enable_ssl(const std::string& cert_file, const std::string& key_file) const;
  void disable_ssl() const;

 private:
  // Child process that sleeps until the write end of a pipe closes (this
  // process exited, however it died), then runs the script's `stop`.
  class Watchdog {
   public:
    Watchdog(const std::string& script, const std::string& dir);
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;
    ~Watchdog();

   private:
    int pipe_write_ = -1;
    pid_t pid_ = -1;
  };

  PostgresServer();

  std::string script_;
  std::string dir_;
  Watchdog watchdog_;
  std::string host_ = "127.0.0.1";
  std::uint16_t port_ = 0;
  std::string socket_dir_;
};

// TLS on the test PostgreSQL for as long as it lives.
class SslGuard {
 public:
  SslGuard(const std::string& cert_file, const std::string& key_file) {
    PostgresServer::instance().enable_ssl(cert_file, key_file);
  }
  ~SslGuard() { PostgresServer::instance().disable_ssl(); }
  SslGuard(const SslGuard&) = delete;
  SslGuard& operator=(const SslGuard&) = delete;
};

}  // namespace pggat::test
