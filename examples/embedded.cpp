// Example: a pooler built in code, no JSON, running inside the host's own event loop.
//
//   embedded LISTEN_ADDRESS SERVER_ADDRESS USER PASSWORD DATABASE
//   embedded 127.0.0.1:6432 127.0.0.1:5432 app app-pass app
//
// The host owns the io_context and keeps doing its own work on it (here, a
// heartbeat timer); pggat is one more tenant of the same loop and thread.
#include <csignal>
#include <iostream>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "pggat/pggat.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: embedded LISTEN_ADDRESS SERVER_ADDRESS USER PASSWORD DATABASE\n";
    return 2;
  }

  asio::io_context io;  // the host's loop

  // A pool of up to 10 session-mode connections to one server.
  pggat::BasicPoolOptions options = pggat::BasicPoolOptions::session();
  options.name = "embedded";
  options.client_acquire_timeout = std::chrono::seconds(5);
  std::shared_ptr<pggat::Pool> pool = pggat::make_basic_pool(options);

  pggat::Recipe recipe;
  recipe.address = argv[2];
  recipe.username = argv[3];
  recipe.password = argv[4];
  recipe.database = argv[5];
  recipe.max_connections = 10;
  pool->add_recipe("primary", recipe);

  // Every database name goes to that pool.
  pggat::Server server;
  server.add_listener(pggat::ListenerOptions{.address = argv[1]});
  server.add_route(pggat::Route{pggat::match_database("*"), pggat::make_pool_handler(pool)});

  pggat::App app(io.get_executor());
  app.add_server(std::move(server));
  try {
    app.start();
  } catch (const std::exception& e) {
    std::cerr << "cannot start: " << e.what() << "\n";
    return 1;
  }
  for (const auto& address : app.bound_addresses()) std::cout << "listening " << address << std::endl;

  // The host's own work carries on beside pggat.
  asio::steady_timer heartbeat(io);
  std::function<void(std::error_code)> beat = [&](std::error_code ec) {
    if (ec) return;
    const pggat::PoolStats s = pool->stats();
    std::cout << "host heartbeat: " << s.clients << " clients, " << s.servers_idle + s.servers_active
              << " servers" << std::endl;
    heartbeat.expires_after(std::chrono::seconds(1));
    heartbeat.async_wait(beat);
  };
  heartbeat.expires_after(std::chrono::seconds(1));
  heartbeat.async_wait(beat);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    heartbeat.cancel();
    app.shutdown(std::chrono::seconds(5), [&] { io.stop(); });
  });
  io.run();
  return 0;
}
