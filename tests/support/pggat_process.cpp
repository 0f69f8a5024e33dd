// Child processes for tests: pggat and the examples as servers, client programs to completion.
#include "support/pggat_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "support/ports.hpp"

#ifndef PGGAT_SOURCE_ROOT
#error "PGGAT_SOURCE_ROOT must name the source tree (set in tests/support/meson.build)"
#endif

extern char** environ;

namespace pggat::test {
namespace {

constexpr auto poll_interval = std::chrono::milliseconds(5);

// The test's environment changed by env, as NAME=VALUE strings.
std::vector<std::string> environment_with(const Environment& env) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string::npos && env.contains(entry.substr(0, eq))) continue;
    out.push_back(entry);
  }
  for (const auto& [name, value] : env)
    if (value) out.push_back(name + "=" + *value);
  return out;
}

// argv[0] as given when it has a slash, else the first match in PATH.
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("program not found in PATH: " + name);
}

std::string shell_quoted(const std::string& word) {
  if (!word.empty() && word.find_first_of(" \t\n'\"\\$`;&|<>()*?[]{}!#~") == std::string::npos)
    return word;
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace

std::string source_path(std::string_view relative) {
  return std::string(PGGAT_SOURCE_ROOT) + "/" + std::string(relative);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

TempDir::TempDir() {
  std::string path = "/tmp/pggat-cli.XXXXXX";
  if (::mkdtemp(path.data()) == nullptr)
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + path);
  path_ = path;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::operator/(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

bool ExitStatus::exited() const {
  return WIFEXITED(raw);
}
int ExitStatus::code() const {
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}
int ExitStatus::signal() const {
  return WIFSIGNALED(raw) ? WTERMSIG(raw) : 0;
}
std::string ExitStatus::describe() const {
  if (WIFEXITED(raw)) return "exit " + std::to_string(WEXITSTATUS(raw));
  if (WIFSIGNALED(raw))
    return "signal " + std::to_string(WTERMSIG(raw)) + " (" + strsignal(WTERMSIG(raw)) + ")";
  return "status " + std::to_string(raw);
}

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string stdout_file,
                           std::string stderr_file, const Environment& env)
    : argv_(std::move(argv)),
      stdout_file_(std::move(stdout_file)),
      stderr_file_(std::move(stderr_file)) {
  if (argv_.empty()) throw std::invalid_argument("ChildProcess: empty argv");
  // Everything the child uses is prepared before fork: only async-signal-safe
  // calls are allowed between fork and exec.
  const std::string program = resolve_program(argv_[0]);
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_strings = environment_with(env);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();

  const int out_fd = ::open(stdout_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = ::open(stderr_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) {
    const int error = errno;
    for (const int fd : {out_fd, err_fd, null_fd})
      if (fd >= 0) ::close(fd);
    throw std::system_error(error, std::generic_category(),
                            "opening " + stdout_file_ + " / " + stderr_file_);
  }

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(out_fd);
    ::close(err_fd);
    ::close(null_fd);
    throw std::system_error(error, std::generic_category(), "fork");
  }
  if (pid == 0) {
    // Die with the test process, however it ends.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    // The test process may have signals blocked or ignored; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(program.c_str(), args.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  ::close(null_fd);
  pid_ = pid;
}

ChildProcess::~ChildProcess() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int raw = 0;
    while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
    }
  }
}

std::string ChildProcess::command_line() const {
  std::string out;
  for (const auto& a : argv_) {
    if (!out.empty()) out += ' ';
    out += shell_quoted(a);
  }
  return out;
}

std::optional<ExitStatus> ChildProcess::poll() {
  if (status_) return status_;
  int raw = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(pid_, &raw, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = ExitStatus{raw};
    exited_at_ = Clock::now();
  } else if (r < 0) {
    throw std::system_error(errno, std::generic_category(), "waitpid " + std::to_string(pid_));
  }
  return status_;
}

std::optional<ExitStatus> ChildProcess::wait_until(Clock::time_point deadline) {
  for (;;) {
    if (auto status = poll()) return status;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(poll_interval);
  }
}

void ChildProcess::send_signal(int signo) {
  if (status_) return;  // reaped: the pid may belong to someone else by now
  if (::kill(pid_, signo) != 0 && errno != ESRCH)
    throw std::system_error(errno, std::generic_category(), "kill " + std::to_string(pid_));
}

ExitStatus ChildProcess::stop(std::chrono::milliseconds grace) {
  if (auto status = poll()) return *status;
  send_signal(SIGTERM);
  if (auto status = wait_for(grace)) return *status;
  send_signal(SIGKILL);
  for (;;) {
    if (auto status = wait_for(std::chrono::seconds(10))) return *status;
  }
}

std::string RunResult::describe() const {
  std::string text = "$ " + command + "\n";
  text += timed_out ? "TIMED OUT, killed\n" : status.describe() + "\n";
  text += "--- stdout ---\n" + out + "\n--- stderr ---\n" + err + "\n--------------";
  return text;
}

RunResult run_program(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                      const Environment& env) {
  TempDir dir;
  ChildProcess child(std::move(argv), dir / "stdout", dir / "stderr", env);
  RunResult result;
  result.command = child.command_line();
  auto status = child.wait_for(timeout);
  if (!status) {
    result.timed_out = true;
    status = child.stop(std::chrono::seconds(2));
  }
  result.status = *status;
  result.out = child.out();
  result.err = child.err();
  return result;
}

PggatProcess::PggatProcess(std::vector<std::string> argv, const std::string& dir,
                           std::uint16_t port, std::string name,
                           std::chrono::milliseconds ready_timeout)
    : port_(port) {
  process_ = std::make_unique<ChildProcess>(std::move(argv), dir + "/" + name + ".out",
                                            dir + "/" + name + ".log");
  const auto deadline = Clock::now() + ready_timeout;
  for (;;) {
    if (auto status = process_->poll()) {
      throw std::runtime_error(process_->command_line() + " exited (" + status->describe() +
                               ") before listening on 127.0.0.1:" + std::to_string(port) +
                               "\n--- stderr ---\n" + process_->err() + "--- stdout ---\n" +
                               process_->out());
    }
    if (tcp_port_accepts(port)) return;
    if (Clock::now() >= deadline) {
      const std::string log = process_->err();
      process_->stop(std::chrono::seconds(2));
      throw std::runtime_error(
          process_->command_line() + " did not listen on 127.0.0.1:" + std::to_string(port) +
          " within " + std::to_string(ready_timeout.count()) + " ms\n--- stderr ---\n" + log);
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

PggatProcess::~PggatProcess() {
  if (process_) process_->stop(std::chrono::seconds(10));
}

std::unique_ptr<PggatProcess> start_pggat(
    const std::string& binary, const TempDir& dir,
    const std::function<nlohmann::json(std::uint16_t port)>& make_config,
    std::vector<std::string> extra_args, std::string name) {
  const std::string config_file = dir / (name + ".json");
  for (int attempt = 1;; ++attempt) {
    const std::uint16_t port = free_tcp_port();
    write_file(config_file, make_config(port).dump(2) + "\n");
    std::vector<std::string> argv{binary, "run", config_file};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    try {
      return std::make_unique<PggatProcess>(std::move(argv), dir.path(), port, name);
    } catch (const std::runtime_error& e) {
      // Someone took the port between free_tcp_port() and pggat's bind.
      const bool port_taken = std::string(e.what()).find("in use") != std::string::npos;
      if (!port_taken || attempt == 3) throw;
    }
  }
}

nlohmann::json& point_config_at(nlohmann::json& config, std::uint16_t port,
                                const std::string& socket_dir, const std::string& server_address) {
  nlohmann::json& root = config.contains("apps") ? config["apps"]["pggat"] : config;
  for (auto& server : root.at("servers")) {
    if (server.contains("listen")) {
      for (auto& listen : server["listen"]) {
        const std::string address = listen.at("address").get<std::string>();
        listen["address"] = address.starts_with("/") ? socket_dir + ":" + std::to_string(port)
                                                     : "127.0.0.1:" + std::to_string(port);
      }
    }
    if (server.contains("routes")) {
      for (auto& route : server["routes"]) {
        if (route.contains("handle") && route["handle"].contains("recipe"))
          route["handle"]["recipe"]["address"] = server_address;
      }
    }
  }
  return config;
}

int tcp_connect_error(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int error = r == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

bool tcp_port_accepts(std::uint16_t port) {
  return tcp_connect_error(port) == 0;
}

int unix_connect_error(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    ::close(fd);
    throw std::invalid_argument("unix socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int error = r == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll_interval);
  }
}

}  // namespace pggat::test
