// A throwaway PostgreSQL 15 cluster for the tests, one per test process.
#pragma once

#include <pqxx/pqxx>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
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

// How tests/support runs scripts/throwaway-postgres.sh.
namespace throwaway {

// Runs `script words...` through /bin/sh; returns its stdout, throws (its
// stderr goes to ours) unless it exits 0.
std::string run(const std::string& script, const std::vector<std::string>& words);
// The value of the last KEY=value line of the script's output; throws if none.
[[nodiscard]] std::string printed(const std::string& output, std::string_view key);
// printed(output, "PORT") as a port number.
[[nodiscard]] std::uint16_t printed_port(const std::string& output);

}  // namespace throwaway

// A cluster that scripts/throwaway-postgres.sh runs in a directory of its
// own (a new one under /tmp): where it listens and how to talk to it as the
// superuser. A watchdog child runs the script's `stop` (which removes the
// directory) when this process exits, however it dies (Ctrl-C, a meson
// timeout, a crash), so no cluster outlives its test binary.
class ThrowawayCluster {
 public:
  ThrowawayCluster(const ThrowawayCluster&) = delete;
  ThrowawayCluster& operator=(const ThrowawayCluster&) = delete;

  [[nodiscard]] const std::string& host() const { return host_; }  // "127.0.0.1"
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string address() const;  // "127.0.0.1:PORT"
  [[nodiscard]] const std::string& socket_dir() const { return socket_dir_; }
  // The directory the script manages (data/, socket/, ...) and the script.
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] const std::string& script() const { return script_; }
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

 protected:
  // A new empty directory and its watchdog; the port is the subclass's to set.
  explicit ThrowawayCluster(std::string script);
  ~ThrowawayCluster();  // the watchdog member stops the cluster

  // Sets port_ and socket_dir_ from the script's output.
  void started(const std::string& output);

 private:
  // Child process that sleeps until the write end of a pipe closes (this
  // process exited, however it died), then runs `script stop dir`.
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

  std::string script_;
  std::string dir_;
  Watchdog watchdog_;
  std::string host_ = "127.0.0.1";
  std::uint16_t port_ = 0;
  std::string socket_dir_;
};

// The primary: started on the first call to instance() by running
// `scripts/throwaway-postgres.sh start <dir>`; stopped and removed when the
// process exits. If starting fails, every instance() call throws the reason.
class PostgresServer : public ThrowawayCluster {
 public:
  [[nodiscard]] static PostgresServer& instance();

  ~PostgresServer();

  // Terminates every backend of user (but not the caller's); returns how many.
  std::size_t terminate_backends_of(std::string_view user) const;

  // Turns TLS on with this certificate and key (PEM files, copied into the
  // data directory for the server's user) and waits until new connections
  // see it; disable_ssl() turns it off again the same way. The cluster starts
  // with ssl = off; a test that turns it on must turn it off (SslGuard).
  void enable_ssl(const std::string& cert_file, const std::string& key_file) const;
  void disable_ssl() const;

 private:
  PostgresServer();
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
