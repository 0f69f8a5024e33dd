// Example: a matcher written in C++, registered under a JSON name and used from a config.
//
//   custom_matcher config.json
//
// The config may then route on the client's application_name:
//   "match": {"matcher": "application_name", "application_name": "report*"}
#include <csignal>
#include <iostream>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "pggat/pggat.hpp"

namespace {

// Matches clients whose application_name startup parameter fits a glob.
class ApplicationNameMatcher final : public pggat::Matcher {
 public:
  explicit ApplicationNameMatcher(std::string glob) : glob_(std::move(glob)) {}

  bool matches(const pggat::Client& client) const override {
    const std::string* name = client.parameters.find("application_name");
    return pggat::glob_match(glob_, name != nullptr ? *name : "");
  }

 private:
  std::string glob_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: custom_matcher config.json\n";
    return 2;
  }

  // Each registry is independent: built-ins first, then ours.
  pggat::Registry registry;
  pggat::register_builtins(registry);
  registry.add_matcher("application_name",
                       [](const pggat::ConfigNode& node, const pggat::Registry&) {
                         // Unknown fields and a missing glob are config errors with a path.
                         node.check_keys({"matcher", "application_name"});
                         return std::make_shared<ApplicationNameMatcher>(
                             node.at("application_name").as_string());
                       });

  pggat::Config config;
  try {
    config = pggat::load_config_file(argv[1], registry);
  } catch (const pggat::ConfigError& e) {
    std::cerr << "config error: " << e.what() << "\n";
    return 2;
  }

  asio::io_context io;
  pggat::App app(io.get_executor(), std::move(config));
  app.start();
  for (const auto& address : app.bound_addresses()) std::cout << "listening " << address << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { app.shutdown(std::chrono::seconds(5), [&] { io.stop(); }); });
  io.run();
  return 0;
}
