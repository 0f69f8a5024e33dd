// Middlewares on the session relay: seeing, swallowing, injecting and answering messages.
#include <catch2/catch.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "pggat/pggat.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"

using namespace pggat;
using namespace pggat::test;

namespace {

struct Seen {
  std::atomic<int> queries{0};
  std::atomic<int> ready{0};
};

// Counts Query and ReadyForQuery; refuses queries that mention "forbidden"
// (answering the client itself); tags the first query with a comment-free SET.
class TestMiddleware final : public Middleware {
 public:
  explicit TestMiddleware(Seen& seen) : seen_(seen) {}
  proto::TypeSet client_types() const override { return {'Q'}; }
  proto::TypeSet server_types() const override { return {'Z'}; }

  FilterStatus on_client_message(const proto::Frame& m, MiddlewareContext& ctx) override {
    ++seen_.queries;
    const auto q = proto::fe::Query::decode(m.body);
    if (q && q->sql.find("forbidden") != std::string_view::npos) {
      proto::Buffer reply;
      proto::be::ErrorResponse::encode(reply, PgError::error("42501", "blocked by middleware"));
      proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(reply);
      ctx.send_to_client(reply);
      return FilterStatus::Stop;
    }
    if (!tagged_) {
      tagged_ = true;
      proto::Buffer set;
      proto::fe::Query{"set application_name = 'tagged-by-middleware'"}.encode(set);
      ctx.send_to_server(set);
    }
    return FilterStatus::Continue;
  }
  FilterStatus on_server_message(const proto::Frame&, MiddlewareContext&) override {
    // The injected SET's ReadyForQuery must not reach the client: it never asked.
    ++seen_.ready;
    if (swallow_next_ready_) {
      swallow_next_ready_ = false;
      return FilterStatus::Stop;
    }
    return FilterStatus::Continue;
  }

 private:
  Seen& seen_;
  bool tagged_ = false;
  bool swallow_next_ready_ = true;  // for the SET injected before the first query
};

}  // namespace

TEST_CASE("middlewares see, swallow, inject and answer messages", "[middleware]") {
  Seen seen;
  BasicPoolOptions options = BasicPoolOptions::session();
  options.middlewares.push_back(
      [&seen](const Client&) { return std::make_unique<TestMiddleware>(seen); });
  auto pool = make_basic_pool(options);
  Recipe recipe;
  recipe.address = PostgresServer::instance().address();
  recipe.username = "app";
  recipe.password = "app-pass";
  recipe.database = "app";
  pool->add_recipe("primary", recipe);
  Server server;
  server.add_listener(ListenerOptions{.address = "127.0.0.1:0"});
  server.add_route(Route{nullptr, make_pool_handler(pool)});

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  App app(io.get_executor());
  app.add_server(std::move(server));
  app.start();
  const std::string address = app.bound_addresses().front();
  std::thread loop([&] { io.run(); });

  {
    PqConnection c("host=127.0.0.1 port=" + address.substr(address.rfind(':') + 1) +
                   " user=app dbname=app");
    // The first query carries the injected SET ahead of it.
    CHECK(c.exec("show application_name").value() == "tagged-by-middleware");
    const PqResult blocked = c.exec("select 'forbidden'");
    CHECK(blocked.sqlstate() == "42501");
    CHECK(blocked.error().find("blocked by middleware") != std::string::npos);
    // The session is in step after the answer given on the server's behalf.
    CHECK(c.exec("select 40 + 2").value() == "42");
  }
  CHECK(seen.queries >= 3);
  CHECK(seen.ready >= 3);

  std::promise<void> stopped;
  app.shutdown(std::chrono::seconds(0), [&] { stopped.set_value(); });
  stopped.get_future().wait();
  work.reset();
  io.stop();
  loop.join();
}
