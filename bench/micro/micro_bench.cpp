// Micro-benchmarks: the codec's hot calls and the transaction relay's round trip.
//
// Run: build/bench/micro/micro-bench            (all, Catch2's benchmark report)
//      build/bench/micro/micro-bench "[relay]"  (one group)
// Figures are per call (or per 1,000 round trips for the relay); compare runs
// on the same machine, before and after a change.
#define CATCH_CONFIG_MAIN
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frame.hpp"
#include "pggat/proto/frontend.hpp"
#include "support/relay_loop.hpp"

using namespace pggat;

namespace {

// What a select-only transaction's reply looks like: a row description, a
// row, the command tag and ReadyForQuery, 100 times over.
proto::Buffer reply_stream() {
  proto::Buffer out;
  for (int i = 0; i < 100; ++i) {
    proto::be::CommandComplete{"SELECT 1"}.encode(out);
    proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(out);
  }
  return out;
}

}  // namespace

TEST_CASE("codec", "[codec]") {
  const proto::Buffer stream = reply_stream();
  const proto::FrameRules rules{proto::Direction::backend, proto::states::backend_ready,
                                proto::default_max_message_length};
  BENCHMARK("decode_header: 200 messages of a reply stream") {
    std::size_t pos = 0;
    std::size_t messages = 0;
    while (pos < stream.size()) {
      const auto h = proto::decode_header(proto::Bytes(stream).subspan(pos), rules);
      if (h.status != proto::DecodeStatus::ok) break;
      pos += h.header.total_size();
      ++messages;
    }
    return messages;
  };
  proto::Buffer out;
  BENCHMARK("encode a Query") {
    out.clear();
    proto::fe::Query{"select abalance from pgbench_accounts where aid = 1"}.encode(out);
    return out.size();
  };
  proto::Buffer error;
  proto::be::ErrorResponse::encode(error, PgError::error("42P01", "relation \"nope\" does not exist"));
  const proto::Bytes error_body = proto::Bytes(error).subspan(proto::FrameHeader::size);
  BENCHMARK("decode an ErrorResponse") { return proto::be::ErrorResponse::decode(error_body).has_value(); };
}

TEST_CASE("relay", "[relay]") {
  test::RelayLoop loop;
  REQUIRE(loop.run(1000) == 1000);  // warm
  BENCHMARK("relay_unit: 1,000 query round trips over socket pairs") { return loop.run(1000); };
  // Wall time above includes the peers' wake-ups; the relay's own cost is
  // the io thread's CPU time.
  constexpr int round_trips = 10000;
  REQUIRE(loop.run(round_trips) == round_trips);
  const double us = std::chrono::duration<double, std::micro>(loop.last_run_cpu()).count() / round_trips;
  std::cout << "relay_unit: " << us << " us of io-thread CPU per query round trip (" << round_trips
            << " round trips)\n";
}
