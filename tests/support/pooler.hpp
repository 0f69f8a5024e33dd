// An in-process pggat on its own thread and io_context, for integration tests.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <nlohmann/json.hpp>

#include "pggat/app.hpp"
#include "pggat/config.hpp"
#include "pggat/registry.hpp"

namespace pggat::test {

// A session-mode config with one route sending databases "app*" and "postgres"
// to the test PostgreSQL as user app. Listens on 127.0.0.1 port 0 (picked by
// the kernel). The overrides are merged into the pool, recipe and listener objects.
[[nodiscard]] nlohmann::json session_config(const nlohmann::json& pool_overrides = {},
                                            const nlohmann::json& recipe_overrides = {},
                                            const nlohmann::json& listener_overrides = {});

class InProcessPooler {
 public:
  explicit InProcessPooler(const nlohmann::json& config);
  // `customize` registers the test's own handlers, pools... before the config is loaded.
  InProcessPooler(const nlohmann::json& config, const std::function<void(Registry&)>& customize);
  ~InProcessPooler();
  InProcessPooler(const InProcessPooler&) = delete;
  InProcessPooler& operator=(const InProcessPooler&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // libpq conninfo for a client of pggat (trust auth, so no password).
  [[nodiscard]] std::string conninfo(std::string_view dbname = "app", std::string_view user = "app",
                                     std::string_view extra = "") const;

  // Runs f on pggat's thread and returns its result (App is not thread-safe).
  template <class F>
  auto on_loop(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }
  [[nodiscard]] AppStats stats() {
    return on_loop([this] { return app_->stats(); });
  }
  [[nodiscard]] std::vector<PoolSnapshot> pools() {
    return on_loop([this] { return app_->pools(); });
  }
  [[nodiscard]] std::string metrics_address() {
    return on_loop([this] { return app_->metrics_address(); });
  }
  [[nodiscard]] std::size_t threads() {
    return on_loop([this] { return app_->threads(); });
  }

  // A live reload (App::reload) with `config`, loaded by this pooler's
  // registry (a ConfigError is thrown here): the App's error, nullopt once applied.
  std::optional<std::string> reload(const nlohmann::json& config);
  // What the console's RELOAD loads from now on (App::set_config_loader);
  // until then the config it started with.
  void set_config(const nlohmann::json& config);

  // Stops pggat (grace period, then close) and waits for it.
  void stop(std::chrono::nanoseconds grace = std::chrono::nanoseconds(0));

 private:
  Registry registry_;
  std::mutex config_mu_;
  nlohmann::json config_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<App> app_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace pggat::test
