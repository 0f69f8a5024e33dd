// The health monitor's schedule: when a failing recipe is probed again, how long a check may take.
#include "pool/health_monitor.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using pggat::pool::health_check_timeout;
using pggat::pool::probe_delay;

TEST_CASE("probe_delay: one period, doubling per failure after the first, capped",
          "[pool][health_monitor]") {
  CHECK(probe_delay(100ms, 0) == 100ms);
  CHECK(probe_delay(100ms, 1) == 100ms);
  CHECK(probe_delay(100ms, 2) == 200ms);
  CHECK(probe_delay(100ms, 3) == 400ms);
  CHECK(probe_delay(1s, 5) == 16s);
  // Capped at 30s, or the period when that is longer; never an overflow.
  CHECK(probe_delay(1s, 6) == 30s);
  CHECK(probe_delay(1s, 1000) == 30s);
  CHECK(probe_delay(100ms, ~0u) == 30s);
  CHECK(probe_delay(2min, 0) == 2min);
  CHECK(probe_delay(2min, 9) == 2min);
}

TEST_CASE("health_check_timeout: within the connect timeout and 5s, not under a second",
          "[pool][health_monitor]") {
  CHECK(health_check_timeout(15s, 1s) == 1s);
  CHECK(health_check_timeout(15s, 3s) == 3s);
  CHECK(health_check_timeout(15s, 1min) == 5s);
  CHECK(health_check_timeout(2s, 1min) == 2s);
  CHECK(health_check_timeout(0s, 1min) == 5s);  // no connect timeout: still bounded
  // A short period does not make a check give up on a merely busy server.
  CHECK(health_check_timeout(15s, 100ms) == 1s);
  CHECK(health_check_timeout(300ms, 100ms) == 300ms);
}
