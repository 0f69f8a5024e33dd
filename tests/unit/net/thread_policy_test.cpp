// Thread policy: new clients fill threads in order, clients between units move off a thread past the fill.
#include "net/thread_policy.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

using pggat::net::move_target;
using pggat::net::place_client;
using Loads = std::vector<std::uint32_t>;

TEST_CASE("place_client: the first thread under the fill, else the least loaded", "[net][threads]") {
  CHECK(place_client(Loads{0, 0, 0}, 750) == 0);
  CHECK(place_client(Loads{749, 0, 0}, 750) == 0);
  CHECK(place_client(Loads{750, 0, 0}, 750) == 1);  // at the fill: full
  CHECK(place_client(Loads{900, 800, 100}, 750) == 2);
  CHECK(place_client(Loads{900, 760, 800}, 750) == 1);  // all full: the least loaded
  CHECK(place_client(Loads{800, 800}, 750) == 0);       // the first of equals
  CHECK(place_client(Loads{300}, 750) == 0);
}

TEST_CASE("move_target: off a thread at or past the fill, to the least loaded one under half of it",
          "[net][threads]") {
  CHECK_FALSE(move_target(Loads{749, 0}, 0, 750).has_value());  // under the fill: stays
  CHECK(move_target(Loads{750, 0}, 0, 750) == 1u);
  CHECK(move_target(Loads{1000, 500, 100, 300}, 0, 750) == 2u);
  CHECK(move_target(Loads{200, 900}, 1, 750) == 0u);
  // The least loaded is not under half the fill: a move would only pass the load on.
  CHECK_FALSE(move_target(Loads{1000, 375}, 0, 750).has_value());
  CHECK(move_target(Loads{1000, 374}, 0, 750) == 1u);
  CHECK_FALSE(move_target(Loads{1000}, 0, 750).has_value());  // nowhere to go
  CHECK_FALSE(move_target(Loads{1000, 0}, 0, 0).has_value());  // fill 0: no moves
  CHECK_FALSE(move_target(Loads{1000, 0}, 5, 750).has_value());  // not one of them
}
