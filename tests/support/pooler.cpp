// In-process pggat for integration tests.
#include "support/pooler.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "pggat/registry.hpp"
#include "support/postgres_server.hpp"

namespace pggat::test {

nlohmann::json session_config(const nlohmann::json& pool_overrides,
                              const nlohmann::json& recipe_overrides,
                              const nlohmann::json& listener_overrides) {
  nlohmann::json pool = {{"pool", "basic"}, {"mode", "session"}, {"client_acquire_timeout", "10s"}};
  nlohmann::json recipe = {{"address", PostgresServer::instance().address()},
                           {"username", "app"},
                           {"password", "app-pass"},
                           {"database", "app"},
                           {"max_connections", 10}};
  nlohmann::json listener = {{"address", "127.0.0.1:0"}};
  if (pool_overrides.is_object()) pool.update(pool_overrides);
  if (recipe_overrides.is_object()) recipe.update(recipe_overrides);
  if (listener_overrides.is_object()) listener.update(listener_overrides);
  return {{"servers",
           {{{"listen", {listener}},
             {"routes",
              {{{"match", {{"matcher", "database"}, {"database", "app*"}}},
                {"handle", {{"handler", "pool"}, {"pool", pool}, {"recipe", recipe}}}}}}}}}};
}

InProcessPooler::InProcessPooler(const nlohmann::json& config)
    : InProcessPooler(config, [](Registry&) {}) {}

InProcessPooler::InProcessPooler(const nlohmann::json& config,
                                 const std::function<void(Registry&)>& customize)
    : config_(config), work_(io_.get_executor()) {
  register_builtins(registry_);
  customize(registry_);
  auto log = std::make_shared<spdlog::logger>(
      "pggat-test", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  log->set_level(spdlog::level::warn);
  app_ = std::make_unique<App>(io_.get_executor(), load_config(config, registry_), log);
  app_->set_config_loader([this] {
    std::lock_guard lock(config_mu_);
    return load_config(config_, registry_);
  });
  app_->start();
  for (const std::string& a : app_->bound_addresses()) {
    const auto colon = a.rfind(':');
    if (a.front() != '/' && colon != std::string::npos) {
      port_ = static_cast<std::uint16_t>(std::stoi(a.substr(colon + 1)));
      break;
    }
  }
  thread_ = std::thread([this] { io_.run(); });
}

InProcessPooler::~InProcessPooler() { stop(); }

std::optional<std::string> InProcessPooler::reload(const nlohmann::json& config) {
  std::promise<std::optional<std::string>> outcome;
  app_->reload(load_config(config, registry_),
               [&outcome](std::optional<std::string> error) { outcome.set_value(std::move(error)); });
  return outcome.get_future().get();
}

void InProcessPooler::set_config(const nlohmann::json& config) {
  std::lock_guard lock(config_mu_);
  config_ = config;
}

void InProcessPooler::stop(std::chrono::nanoseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  std::promise<void> done;
  app_->shutdown(grace, [&done] { done.set_value(); });
  done.get_future().wait();
  work_.reset();
  io_.stop();
  thread_.join();
}

std::string InProcessPooler::conninfo(std::string_view dbname, std::string_view user,
                                      std::string_view extra) const {
  std::string s = "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + std::string(user) +
                  " dbname=" + std::string(dbname) + " connect_timeout=10";
  if (!extra.empty()) s += " " + std::string(extra);
  return s;
}

}  // namespace pggat::test
