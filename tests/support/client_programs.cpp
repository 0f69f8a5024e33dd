// Client programs and HTTP scrapes for tests.
#include "support/client_programs.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <regex>

namespace pggat::test {

std::string pg_program(const std::string& name) {
  const std::string direct = "/usr/lib/postgresql/15/bin/" + name;
  return ::access(direct.c_str(), X_OK) == 0 ? direct : name;
}

Environment client_env() {
  Environment env;
  for (const char* name :
       {"PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS", "PGSERVICE",
        "PGSERVICEFILE", "PGSSLMODE", "PGPASSWORD", "PGPASSFILE", "PGAPPNAME", "PGTZ",
        "PGDATESTYLE", "PGCLIENTENCODING", "PGTARGETSESSIONATTRS"})
    env[name] = std::nullopt;
  env["PGCONNECT_TIMEOUT"] = "10";
  return env;
}

RunResult run_client(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  return run_program(std::move(argv), timeout, client_env());
}

RunResult psql(const std::string& conninfo, const std::string& sql) {
  return run_client({pg_program("psql"), conninfo, "-X", "-w", "-Atc", sql});
}

RunResult run_pgbench(std::uint16_t port, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{pg_program("pgbench"), "-h", "127.0.0.1", "-p",
                                std::to_string(port), "-U", "app"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("app");
  return run_client(argv, timeout);
}

std::string processed_line(const std::string& out) {
  static const std::regex line{"number of transactions actually processed: [0-9]+/[0-9]+"};
  std::smatch m;
  return std::regex_search(out, m, line) ? m.str() : "(no such line)";
}

long transactions_processed(const std::string& out) {
  static const std::regex line{"number of transactions actually processed: ([0-9]+)"};
  std::smatch m;
  return std::regex_search(out, m, line) ? std::stol(m[1].str()) : -1;
}

namespace {

// Closes the descriptor on every way out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool wait_ready(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

std::optional<std::string> http_get(const std::string& address, const std::string& path,
                                    std::chrono::milliseconds timeout) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  if (::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) != 1) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  Fd s{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)};
  if (s.fd < 0) return std::nullopt;
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS)
    return std::nullopt;
  if (!wait_ready(s.fd, POLLOUT, deadline)) return std::nullopt;
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + address + "\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_ready(s.fd, POLLOUT, deadline)) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  std::string response;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n > 0) {
      response.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;  // HTTP/1.0: the server closes after the body
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_ready(s.fd, POLLIN, deadline)) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (!response.starts_with("HTTP/1.1 200") && !response.starts_with("HTTP/1.0 200")) return std::nullopt;
  const auto body = response.find("\r\n\r\n");
  if (body == std::string::npos) return std::nullopt;
  return response.substr(body + 4);
}

}  // namespace pggat::test
