// The pggat command line: run or validate a config.
#include <sys/stat.h>

#include <csignal>
#include <functional>
#include <iostream>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "pggat/pggat.hpp"

namespace {

constexpr int exit_config_error = 2;
constexpr int exit_start_error = 1;

// Accepts the config as a positional argument or as --config FILE.
struct ConfigArgument {
  std::string positional;
  std::string option;
  void add_to(CLI::App* command) {
    command->add_option("config", positional, "Config file (JSON)");
    command->add_option("-c,--config", option, "Config file (JSON)");
  }
  [[nodiscard]] std::string path() const { return option.empty() ? positional : option; }
};

std::optional<pggat::Config> load(const std::string& path, const pggat::Registry& registry) {
  if (path.empty()) {
    std::cerr << "pggat: no config file given (pggat run config.json)\n";
    return std::nullopt;
  }
  try {
    return pggat::load_config_file(path, registry);
  } catch (const pggat::ConfigError& e) {
    std::cerr << "pggat: config error: " << e.what() << "\n";
    return std::nullopt;
  }
}

// Command-line logging options; set ones override the config's "log".
struct LogFlags {
  std::optional<std::string> level;
  std::optional<std::string> format;
};

// --watch: the config file's identity and contents' stamp; a change in any
// part (an editor that writes a new file and renames it changes the inode).
struct FileStamp {
  time_t mtime_sec = 0;
  long mtime_nsec = 0;
  off_t size = 0;
  ino_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};

std::optional<FileStamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size, st.st_ino};
}

int run(const std::string& path, const LogFlags& flags, bool watch) {
  pggat::Registry registry;
  pggat::register_builtins(registry);
  auto config = load(path, registry);
  if (!config) return exit_config_error;

  // The flags win over the config's "log", at start and on every reload.
  const auto effective_log = [&flags](pggat::LogOptions o) {
    if (flags.level) o.level = spdlog::level::from_str(*flags.level);
    if (flags.format)
      o.format = *flags.format == "json" ? pggat::LogOptions::Format::json : pggat::LogOptions::Format::text;
    return o;
  };
  const pggat::LogOptions log_options = effective_log(config->log);
  auto log = pggat::make_logger(log_options);

  // Hint 1: only this thread runs it, so what it posts to itself goes to a
  // private queue instead of waking its reactor (an epoll_ctl and an extra
  // epoll_wait each time). Other threads still post to it.
  asio::io_context io(1);
  pggat::App app(io.get_executor(), std::move(*config), log);
  try {
    app.start();
  } catch (const std::exception& e) {
    std::cerr << "pggat: " << e.what() << "\n";
    return exit_start_error;
  }

  app.set_config_loader([&path, &registry] { return pggat::load_config_file(path, registry); });
  app.set_reload_hook([&](const pggat::Config& next) {
    const pggat::LogOptions o = effective_log(next.log);
    log->set_level(o.level);
    if (o.format != log_options.format)
      log->warn("reload: \"log.format\" changed, which takes a restart; it stays as it was");
  });

  // --watch: the file is looked at every second; a change reloads it once.
  asio::steady_timer watch_timer(io);
  std::optional<FileStamp> seen = stamp_of(path);
  std::function<void()> watch_file = [&] {
    watch_timer.expires_after(std::chrono::seconds(1));
    watch_timer.async_wait([&](std::error_code ec) {
      if (ec) return;
      if (auto now = stamp_of(path); now && now != seen) {
        seen = now;
        log->info("{} changed: reloading", path);
        app.reload();
      }
      watch_file();
    });
  };
  if (watch) watch_file();

  std::signal(SIGPIPE, SIG_IGN);
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  bool stopping = false;
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      log->info("SIGHUP: reloading {}", path);
      app.reload();
    } else if (!stopping) {
      stopping = true;
      watch_timer.cancel();
      log->info("received {}: stopping (again to stop at once)", signo == SIGINT ? "SIGINT" : "SIGTERM");
      app.shutdown(std::chrono::nanoseconds(-1), [&] {
        signals.cancel();
        io.stop();
      });
    } else {
      log->info("second signal: closing every client now");
      app.shutdown(std::chrono::nanoseconds(0));
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  io.run();
  return 0;
}

int validate(const std::string& path) {
  pggat::Registry registry;
  pggat::register_builtins(registry);
  auto config = load(path, registry);
  if (!config) return exit_config_error;
  std::size_t listeners = 0, routes = 0;
  for (const auto& s : config->servers) {
    listeners += s.listeners().size();
    routes += s.routes().size();
  }
  std::cout << "config OK: " << config->servers.size() << " server(s), " << listeners
            << " listener(s), " << routes << " route(s)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"pggat: a PostgreSQL connection pooler"};
  cli.set_version_flag("-V,--version", std::string("pggat ") + pggat::version_string);
  cli.require_subcommand(1);

  ConfigArgument run_config;
  LogFlags log_flags;
  CLI::App* run_cmd = cli.add_subcommand("run", "Run the pooler with a config");
  run_config.add_to(run_cmd);
  run_cmd->add_option("--log-level", log_flags.level, "trace, debug, info, warn, error (default: the config's, else info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  run_cmd->add_option("--log-format", log_flags.format, "text or json (default: the config's, else text)")
      ->check(CLI::IsMember({"text", "json"}));

  ConfigArgument validate_config;
  CLI::App* validate_cmd = cli.add_subcommand("validate", "Check a config and exit");
  validate_config.add_to(validate_cmd);

  bool watch = false;
  run_cmd->add_flag("--watch", watch, "Reload the config when its file changes (as SIGHUP does)");

  CLI11_PARSE(cli, argc, argv);
  if (run_cmd->parsed()) return run(run_config.path(), log_flags, watch);
  return validate(validate_config.path());
}
