// Links libpggat.so like a host would: only public headers, only exported symbols.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "pggat/pggat.hpp"
#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "pggat/proto/startup.hpp"

using namespace pggat;

namespace {
class Firewall final : public Middleware {
 public:
  proto::TypeSet client_types() const override { return {'Q'}; }
  FilterStatus on_client_message(const proto::Frame& m, MiddlewareContext&) override {
    const auto q = proto::fe::Query::decode(m.body);
    return q && q->sql.find("drop") != std::string_view::npos ? FilterStatus::Stop
                                                              : FilterStatus::Continue;
  }
};
}  // namespace

TEST_CASE("the codec is usable from outside the library", "[public]") {
  proto::Buffer b;
  proto::fe::Query{"select 1"}.encode(b);
  const auto r = proto::decode_frame(
      b, {proto::Direction::frontend, proto::states::frontend_ready, proto::default_max_message_length});
  REQUIRE(r.status == proto::DecodeStatus::ok);
  CHECK(proto::fe::Query::decode(r.frame.body)->sql == "select 1");

  proto::Buffer e;
  proto::be::ErrorResponse::encode(e, PgError::error("42501", "no"));
  const auto er = proto::decode_frame(
      e, {proto::Direction::backend, proto::states::backend_ready, proto::default_max_message_length});
  REQUIRE(er.status == proto::DecodeStatus::ok);
  CHECK(proto::be::ErrorResponse::decode(er.frame.body)->to_pg_error().code == "42501");

  proto::Buffer s;
  const std::pair<std::string_view, std::string_view> params[] = {{"user", "u"}};
  proto::StartupMessage::encode(s, params);
  const auto sr = proto::decode_startup(s);
  REQUIRE(sr.status == proto::DecodeStatus::ok);
  CHECK(proto::StartupMessage::decode(sr.frame)->find("user") == std::optional<std::string_view>("u"));
  CHECK(proto::be::auth_code({}) == std::nullopt);
  CHECK(proto::describe(proto::FrameError::unknown_type, proto::Direction::frontend, {'z', 0}) ==
        "invalid frontend message type 122");
}

TEST_CASE("the object model is usable from outside the library", "[public]") {
  Registry registry;
  register_builtins(registry);
  CHECK(registry.pool_names() == std::vector<std::string>{"basic", "hybrid"});
  const nlohmann::json config = nlohmann::json::parse(R"({"servers": [{"listen": [{"address": "127.0.0.1:0"}],
    "routes": [{"match": {"matcher": "user", "user": "a*"},
                "handle": {"handler": "pool", "pool": {"pool": "basic", "mode": "session"},
                           "recipe": {"address": "127.0.0.1:5432", "username": "a"}}}]}]})");
  const Config loaded = load_config(config, registry);
  CHECK(loaded.servers.size() == 1);
  CHECK_THROWS_AS(load_config(nlohmann::json::parse(R"({"servers": [{"routes": [{}]}]})"), registry),
                  ConfigError);
  CHECK(parse_duration("1h30m") == std::chrono::minutes(90));
  CHECK(glob_match("app*", "app_1"));

  BasicPoolOptions options = BasicPoolOptions::session();
  options.middlewares.push_back([](const Client&) { return std::make_unique<Firewall>(); });
  auto pool = make_basic_pool(options);
  pool->add_recipe("r", Recipe{.address = "127.0.0.1:5432", .username = "a"});
  Server server;
  server.add_route(Route{match_any_of({match_user("a"), match_not(match_database("b"))}),
                         make_pool_handler(pool)});
  CHECK(server.routes().size() == 1);
  CHECK_THROWS_AS(pool->add_replica_recipe("r1", Recipe{.address = "127.0.0.1:5433", .username = "a"}),
                  std::invalid_argument);

  HybridPoolOptions hybrid;
  hybrid.consistency = Consistency::read_your_writes;
  hybrid.base.critics.latency = LatencyCritic{.query_threshold = std::chrono::milliseconds(300)};
  auto split = make_hybrid_pool(hybrid);
  split->add_recipe("primary", Recipe{.address = "127.0.0.1:5432", .username = "a"});
  split->add_replica_recipe("replica", Recipe{.address = "127.0.0.1:5433", .username = "a"});
  CHECK(split->recipe_stats().size() == 2);
  CHECK(split->recipe_stats()[1].replica);
  hybrid.base = BasicPoolOptions::session();
  CHECK_THROWS_AS(make_hybrid_pool(hybrid), std::invalid_argument);
  CHECK(make_error_code(errc::acquire_timeout).category().name() == std::string("pggat"));
}
