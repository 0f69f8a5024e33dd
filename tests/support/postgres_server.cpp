// Throwaway PostgreSQL for tests: start through scripts/throwaway-postgres.sh, stop at exit.
#include "support/postgres_server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>

#ifndef PGGAT_SOURCE_ROOT
#error "PGGAT_SOURCE_ROOT must name the source tree (set in tests/support/meson.build)"
#endif

namespace pggat::test {
namespace {

// Quoting for a value in a libpq key=value connection string.
std::string conninfo_value(std::string_view value) {
  std::string quoted = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '\'';
  return quoted;
}

// Quoting for one word of a /bin/sh command line.
std::string shell_word(std::string_view word) {
  std::string quoted = "'";
  for (const char c : word) {
    if (c == '\'')
      quoted += "'\\''";
    else
      quoted += c;
  }
  quoted += '\'';
  return quoted;
}

std::string make_temp_dir() {
  // Under /tmp and short: the unix socket path inside must fit 107 bytes.
  std::string path = "/tmp/pggat-test.XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + path);
  }
  return path;
}

std::string script_path(std::string_view name) {
  std::string path = std::string(PGGAT_SOURCE_ROOT) + "/scripts/" + std::string(name);
  if (::access(path.c_str(), X_OK) != 0) {
    throw std::runtime_error("not executable: " + path);
  }
  return path;
}

std::string make_conninfo(std::string_view host, std::uint16_t port, std::string_view user,
                          std::string_view password, std::string_view dbname) {
  return "host=" + conninfo_value(host) + " port=" + std::to_string(port) +
         " user=" + conninfo_value(user) + " password=" + conninfo_value(password) +
         " dbname=" + conninfo_value(dbname) + " connect_timeout=10";
}

}  // namespace

namespace throwaway {

std::string run(const std::string& script, const std::vector<std::string>& words) {
  std::string command = shell_word(script);
  for (const auto& word : words) command += " " + shell_word(word);
  FILE* pipe = ::popen(command.c_str(), "re");
  if (pipe == nullptr) {
    throw std::system_error(errno, std::generic_category(), "popen " + command);
  }
  std::string output;
  std::array<char, 256> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
    output += buffer.data();
  }
  const int status = ::pclose(pipe);
  if (status != 0) {
    throw std::runtime_error(command + " failed (status " + std::to_string(status) +
                             "); its stderr is above. stdout: " + output);
  }
  return output;
}

std::string printed(const std::string& output, std::string_view key) {
  const std::string needle = std::string(key) + "=";
  std::optional<std::string> value;
  for (std::size_t line = 0; line < output.size();) {
    std::size_t end = output.find('\n', line);
    if (end == std::string::npos) end = output.size();
    if (output.compare(line, needle.size(), needle) == 0) {
      value = output.substr(line + needle.size(), end - line - needle.size());
    }
    line = end + 1;
  }
  if (!value) throw std::runtime_error("the script printed no " + needle + ": " + output);
  return *value;
}

std::uint16_t printed_port(const std::string& output) {
  const int port = std::atoi(printed(output, "PORT").c_str());
  if (port <= 0 || port > 65535) {
    throw std::runtime_error("the script printed a bad port: " + output);
  }
  return static_cast<std::uint16_t>(port);
}

}  // namespace throwaway

ThrowawayCluster::Watchdog::Watchdog(const std::string& script, const std::string& dir) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    const int error = errno;
    ::rmdir(dir.c_str());  // still empty: nothing else will remove it
    throw std::system_error(error, std::generic_category(), "pipe2");
  }
  // Everything the child needs is built before fork: after fork in a
  // threaded process only async-signal-safe calls are allowed.
  std::string sh = "/bin/sh";
  std::string flag = "-c";
  std::string body = "cat >/dev/null; exec \"$0\" stop \"$1\"";
  std::string script_arg = script;
  std::string dir_arg = dir;
  std::array<char*, 6> argv{sh.data(), flag.data(), body.data(), script_arg.data(),
                            dir_arg.data(), nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    ::rmdir(dir.c_str());
    throw std::system_error(error, std::generic_category(), "fork");
  }
  if (pid == 0) {
    // Own session: a Ctrl-C to the terminal's process group, or meson killing
    // the test's group on timeout, must not kill the watchdog too.
    ::setsid();
    ::dup2(fds[0], STDIN_FILENO);  // the write end is close-on-exec
    ::dup2(STDERR_FILENO, STDOUT_FILENO);  // keep test reporters' stdout clean
    ::execv(sh.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[0]);
  pipe_write_ = fds[1];
  pid_ = pid;
}

ThrowawayCluster::Watchdog::~Watchdog() {
  if (pipe_write_ >= 0) ::close(pipe_write_);
  if (pid_ > 0) {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

ThrowawayCluster::ThrowawayCluster(std::string script)
    : script_(std::move(script)), dir_(make_temp_dir()), watchdog_(script_, dir_) {}

// The watchdog member does the stopping: closing its pipe makes it run `stop`.
ThrowawayCluster::~ThrowawayCluster() = default;

void ThrowawayCluster::started(const std::string& output) {
  port_ = throwaway::printed_port(output);
  socket_dir_ = dir_ + "/socket";
}

std::string ThrowawayCluster::address() const { return host_ + ":" + std::to_string(port_); }

std::string ThrowawayCluster::conninfo(std::string_view user, std::string_view password,
                                       std::string_view dbname) const {
  return make_conninfo(host_, port_, user, password, dbname);
}

std::string ThrowawayCluster::socket_conninfo(std::string_view user, std::string_view password,
                                              std::string_view dbname) const {
  return make_conninfo(socket_dir_, port_, user, password, dbname);
}

pqxx::result ThrowawayCluster::execute(const std::string& sql, std::string_view dbname) const {
  pqxx::connection connection{conninfo(superuser_role.user, superuser_role.password, dbname)};
  pqxx::nontransaction work{connection};
  pqxx::result result = work.exec(sql);
  work.commit();
  return result;
}

PostgresServer::PostgresServer() : ThrowawayCluster(script_path("throwaway-postgres.sh")) {
  started(throwaway::run(script(), {"start", dir()}));
}

PostgresServer::~PostgresServer() = default;

PostgresServer& PostgresServer::instance() {
  // Start once; a failure is remembered so the next test fails fast with the
  // same reason instead of waiting for another start to fail.
  static std::mutex mutex;
  static std::unique_ptr<PostgresServer> server;
  static std::string failure;
  std::lock_guard lock(mutex);
  if (!server && failure.empty()) {
    try {
      server.reset(new PostgresServer());
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (!server) {
    throw std::runtime_error("throwaway PostgreSQL did not start: " + failure);
  }
  return *server;
}

std::size_t PostgresServer::terminate_backends_of(std::string_view user) const {
  pqxx::connection connection{
      conninfo(superuser_role.user, superuser_role.password, "postgres")};
  pqxx::nontransaction work{connection};
  const pqxx::result result = work.exec_params(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
      " WHERE usename = $1 AND pid <> pg_backend_pid()",
      std::string(user));
  work.commit();
  std::size_t terminated = 0;
  for (const auto& row : result) {
    if (row[0].as<bool>()) ++terminated;
  }
  return terminated;
}

}  // namespace pggat::test

namespace pggat::test {
namespace {

// New connections read the configuration the postmaster has loaded; a reload
// is asynchronous, so wait until they see the value.
void wait_for_setting(const PostgresServer& server, const std::string& name, const std::string& value) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    const auto seen = server.execute("SHOW " + name)[0][0].as<std::string>();
    if (seen == value) return;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(name + " is still \"" + seen + "\" after a reload; see " + server.log_file());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
}

// A copy the server's own user can read (it refuses keys others can read).
std::string copy_for_server(const PostgresServer& server, const std::string& from, const std::string& name) {
  namespace fs = std::filesystem;
  const std::string to = server.data_dir() + "/" + name;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  struct stat data {};
  if (::stat(server.data_dir().c_str(), &data) != 0 || ::chown(to.c_str(), data.st_uid, data.st_gid) != 0 ||
      ::chmod(to.c_str(), 0600) != 0)
    throw std::runtime_error("cannot hand " + to + " to the server's user: " + std::strerror(errno));
  return to;
}

}  // namespace

void PostgresServer::enable_ssl(const std::string& cert_file, const std::string& key_file) const {
  const std::string cert = copy_for_server(*this, cert_file, "pggat-test-server.crt");
  const std::string key = copy_for_server(*this, key_file, "pggat-test-server.key");
  execute("ALTER SYSTEM SET ssl_cert_file = '" + cert + "'");
  execute("ALTER SYSTEM SET ssl_key_file = '" + key + "'");
  execute("ALTER SYSTEM SET ssl = on");
  execute("SELECT pg_reload_conf()");
  wait_for_setting(*this, "ssl", "on");
  wait_for_setting(*this, "ssl_cert_file", cert);
}

void PostgresServer::disable_ssl() const {
  execute("ALTER SYSTEM RESET ssl");
  execute("ALTER SYSTEM RESET ssl_cert_file");
  execute("ALTER SYSTEM RESET ssl_key_file");
  execute("SELECT pg_reload_conf()");
  wait_for_setting(*this, "ssl", "off");
}

}  // namespace pggat::test
