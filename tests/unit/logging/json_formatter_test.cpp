// The JSON log line format: one valid object per line whatever the message holds.
#include <catch2/catch.hpp>

#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include "pggat/logging.hpp"

TEST_CASE("JSON log lines escape the message and carry time and level", "[logging]") {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("pggat", sink);
  logger.set_formatter(pggat::make_json_log_formatter());
  logger.warn("user \"{}\" said {}", "o'brien", "back\\slash\nnew line\x01");
  logger.info("second");

  std::istringstream lines(out.str());
  std::string first, second;
  REQUIRE(std::getline(lines, first));
  REQUIRE(std::getline(lines, second));
  const auto a = nlohmann::json::parse(first);
  CHECK(a["level"] == "warning");
  CHECK(a["logger"] == "pggat");
  CHECK(a["message"] == "user \"o'brien\" said back\\slash\nnew line\x01");
  CHECK(std::string(a["time"]).size() == std::string("2026-12-02T06:39:27.123456Z").size());
  CHECK(std::string(a["time"]).back() == 'Z');
  CHECK(nlohmann::json::parse(second)["message"] == "second");
}
