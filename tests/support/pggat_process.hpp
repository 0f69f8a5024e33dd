// Running programs from tests: the pggat binary (and the examples) as a
// long-lived server process, and client programs (psql, pgbench, python) to
// completion, each with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pggat::test {

// A path in the source tree: source_path("examples/session.json").
[[nodiscard]] std::string source_path(std::string_view relative);

[[nodiscard]] std::string read_file(const std::string& path);
void write_file(const std::string& path, std::string_view text);

// A fresh directory under /tmp (short: unix socket paths must fit 107 bytes),
// removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string operator/(std::string_view name) const;

 private:
  std::string path_;
};

// How a child ended, from its waitpid status.
struct ExitStatus {
  int raw = 0;
  [[nodiscard]] bool exited() const;
  [[nodiscard]] int code() const;              // exit code, -1 when killed by a signal
  [[nodiscard]] int signal() const;            // terminating signal, 0 when it exited
  [[nodiscard]] std::string describe() const;  // "exit 0", "signal 9"
};

using Clock = std::chrono::steady_clock;

// Changes to the test's environment for a child: a value sets the variable,
// nullopt removes it.
using Environment = std::map<std::string, std::optional<std::string>>;

// A child process with stdout and stderr redirected to files and stdin from
// /dev/null. It dies with the test process (PR_SET_PDEATHSIG), so a crashed
// test leaves no server behind. The destructor kills a still-running child.
class ChildProcess {
 public:
  // argv[0] is a path or a name looked up in PATH; the child gets the test's
  // own environment changed by env.
  ChildProcess(std::vector<std::string> argv, std::string stdout_file, std::string stderr_file,
               const Environment& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::vector<std::string>& argv() const { return argv_; }
  [[nodiscard]] std::string command_line() const;

  // Reaps the child if it has exited (never blocks); the status once it has.
  std::optional<ExitStatus> poll();
  // Polls until the child exits or the deadline passes.
  std::optional<ExitStatus> wait_until(Clock::time_point deadline);
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout) {
    return wait_until(Clock::now() + timeout);
  }
  [[nodiscard]] bool running() { return !poll().has_value(); }
  // When poll() first saw the child gone (steady clock); set with the status.
  [[nodiscard]] std::optional<Clock::time_point> exited_at() const { return exited_at_; }

  void send_signal(int signo);
  // SIGTERM, wait up to `grace`, then SIGKILL and wait. Returns the status.
  ExitStatus stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  [[nodiscard]] std::string out() const { return read_file(stdout_file_); }
  [[nodiscard]] std::string err() const { return read_file(stderr_file_); }
  [[nodiscard]] const std::string& stdout_file() const { return stdout_file_; }
  [[nodiscard]] const std::string& stderr_file() const { return stderr_file_; }

 private:
  std::vector<std::string> argv_;
  std::string stdout_file_;
  std::string stderr_file_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  std::optional<Clock::time_point> exited_at_;
};

// What a program run to completion left behind.
struct RunResult {
  std::string command;
  ExitStatus status;
  bool timed_out = false;  // killed at the deadline
  std::string out;
  std::string err;
  [[nodiscard]] bool ok() const { return !timed_out && status.exited() && status.code() == 0; }
  // Command, status and both streams, for test failure messages.
  [[nodiscard]] std::string describe() const;
};

// Runs argv with stdout/stderr captured (in files under a temporary
// directory); kills it (and reports timed_out) when it outlives timeout.
RunResult run_program(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                      const Environment& env = {});

// A program that is a pooler: it listens on 127.0.0.1:port once ready.
// Output goes to <dir>/<name>.out and <dir>/<name>.log (stderr).
class PggatProcess {
 public:
  // Starts argv and waits (up to ready_timeout) until 127.0.0.1:port accepts
  // connections. Throws std::runtime_error with the log when the process
  // exits first or the deadline passes. The probe is a connection closed at
  // once: the pooler may count it as a client for a moment.
  PggatProcess(std::vector<std::string> argv, const std::string& dir, std::uint16_t port,
               std::string name = "pggat",
               std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));
  // SIGTERM, and SIGKILL when it has not exited after 10 s.
  ~PggatProcess();
  PggatProcess(const PggatProcess&) = delete;
  PggatProcess& operator=(const PggatProcess&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] ChildProcess& process() { return *process_; }
  [[nodiscard]] pid_t pid() const { return process_->pid(); }
  [[nodiscard]] std::string log() const { return process_->err(); }
  [[nodiscard]] std::string out() const { return process_->out(); }

  void terminate() { process_->send_signal(SIGTERM); }
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout) {
    return process_->wait_for(timeout);
  }
  ExitStatus stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    return process_->stop(grace);
  }
  // The exit status once the process has exited (polls, never blocks).
  [[nodiscard]] std::optional<ExitStatus> exit_status() { return process_->poll(); }

 private:
  std::uint16_t port_;
  std::unique_ptr<ChildProcess> process_;
};

// `pggat run CONFIG` with a config written to <dir>/<name>.json, listening on
// 127.0.0.1:port. make_config(port) builds the config; when the binary exits
// at once because the port was taken meanwhile (free_tcp_port races), it is
// retried with another free port.
std::unique_ptr<PggatProcess> start_pggat(
    const std::string& binary, const TempDir& dir,
    const std::function<nlohmann::json(std::uint16_t port)>& make_config,
    std::vector<std::string> extra_args = {}, std::string name = "pggat");

// Rewrites every listener of a pggat config: TCP ones to 127.0.0.1:port, unix
// ones to "<socket_dir>:port"; and every route's recipe address to
// server_address. Returns the config changed in place.
nlohmann::json& point_config_at(nlohmann::json& config, std::uint16_t port,
                                const std::string& socket_dir, const std::string& server_address);

// Whether a TCP connection to 127.0.0.1:port is accepted now (it is closed at once).
[[nodiscard]] bool tcp_port_accepts(std::uint16_t port);
// connect(2)'s errno for 127.0.0.1:port, 0 when it connected.
[[nodiscard]] int tcp_connect_error(std::uint16_t port);
// Same for a unix socket path.
[[nodiscard]] int unix_connect_error(const std::string& path);

// Polls condition every few milliseconds until it holds or the deadline passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace pggat::test
