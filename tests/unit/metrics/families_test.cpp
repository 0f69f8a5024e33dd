// Prometheus families: names, labels and histogram buckets as the text format shows them.
#include <catch2/catch.hpp>

#include <prometheus/text_serializer.h>

#include "metrics/families.hpp"

TEST_CASE("metric families render pool figures with cumulative buckets", "[metrics]") {
  pggat::metrics::Snapshot s;
  s.app.clients = 3;
  s.listeners.push_back({.address = "127.0.0.1:6432", .incoming = 9, .accepted = 8, .rejected = 1, .clients = 3});
  pggat::PoolSnapshot p;
  p.name = "app_pool";
  p.user = "app";
  p.database = "app";
  p.description = {.kind = "basic", .mode = "transaction", .name = "app_pool"};
  p.stats.queries = 7;
  p.stats.query_time.observe(std::chrono::microseconds(50));    // first bucket
  p.stats.query_time.observe(std::chrono::microseconds(100));   // on the bound: still the first
  p.stats.query_time.observe(std::chrono::seconds(60));         // above every bound
  s.pools.push_back(p);

  const std::string text = prometheus::TextSerializer().Serialize(pggat::metrics::families(s));
  INFO(text);
  CHECK_THAT(text, Catch::Contains("pggat_listener_incoming{listen_addr=\"127.0.0.1:6432\"} 9"));
  CHECK_THAT(text, Catch::Contains("pggat_listener_client{listen_addr=\"127.0.0.1:6432\"} 3"));
  CHECK_THAT(text, Catch::Contains(
                       "pggat_pool_queries_total{pool=\"app_pool\",user=\"app\",database=\"app\",mode=\"transaction\"} 7"));
  CHECK_THAT(text, Catch::Contains("pggat_pool_query_seconds_bucket{pool=\"app_pool\",user=\"app\",database=\"app\","
                                   "mode=\"transaction\",le=\"0.0001\"} 2"));
  CHECK_THAT(text, Catch::Contains("le=\"10\"} 2"));
  CHECK_THAT(text, Catch::Contains("le=\"+Inf\"} 3"));
  CHECK_THAT(text, Catch::Contains("pggat_pool_query_seconds_count{pool=\"app_pool\",user=\"app\",database=\"app\","
                                   "mode=\"transaction\"} 3"));
  // The same histogram in ms under pggat's own name.
  CHECK_THAT(text, Catch::Contains("# TYPE pggat_operation_simple_acquire_ms histogram"));
  CHECK_THAT(text, Catch::Contains("pggat_operation_simple_execution_ms_bucket"));
  // A basic pool has no hybrid figures.
  CHECK_THAT(text, !Catch::Contains("pggat_pool_hybrid_hits"));
}
