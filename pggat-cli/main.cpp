// The pggat command line: run or validate a config.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

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

int run(const std::string& path, const LogFlags& flags) {
  pggat::Registry registry;
  pggat::register_builtins(registry);
  auto config = load(path, registry);
  if (!config) return exit_config_error;

  pggat::LogOptions log_options = config->log;
  if (flags.level) log_options.level = spdlog::level::from_str(*flags.level);
  if (flags.format)
    log_options.format = *flags.format == "json" ? pggat::LogOptions::Format::json : pggat::LogOptions::Format::text;
  auto log = pggat::make_logger(log_options);

  asio::io_context io;
  pggat::App app(io.get_executor(), std::move(*config), log);
  try {
    app.start();
  } catch (const std::exception& e) {
    std::cerr << "pggat: " << e.what() << "\n";
    return exit_start_error;
  }

  std::signal(SIGPIPE, SIG_IGN);
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  bool stopping = false;
  std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      log->warn("SIGHUP: live reload is not supported by this version yet; ignoring");
    } else if (!stopping) {
      stopping = true;
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

  CLI11_PARSE(cli, argc, argv);
  if (run_cmd->parsed()) return run(run_config.path(), log_flags);
  return validate(validate_config.path());
}
