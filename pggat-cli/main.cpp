// The pggat command line: run or validate a config.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>

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

int run(const std::string& path, const std::string& log_level) {
  pggat::Registry registry;
  pggat::register_builtins(registry);
  auto config = load(path, registry);
  if (!config) return exit_config_error;

  auto log = std::make_shared<spdlog::logger>(
      "pggat", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  log->set_level(spdlog::level::from_str(log_level));

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
  std::string log_level = "info";
  CLI::App* run_cmd = cli.add_subcommand("run", "Run the pooler with a config");
  run_config.add_to(run_cmd);
  run_cmd->add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  ConfigArgument validate_config;
  CLI::App* validate_cmd = cli.add_subcommand("validate", "Check a config and exit");
  validate_config.add_to(validate_cmd);

  CLI11_PARSE(cli, argc, argv);
  if (run_cmd->parsed()) return run(run_config.path(), log_level);
  return validate(validate_config.path());
}
