// Logging: the JSON line formatter and the logger the CLI runs with.
#include "pggat/logging.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace pggat {
namespace {

void append(spdlog::memory_buf_t& out, std::string_view s) { out.append(s.data(), s.data() + s.size()); }

void append_escaped(spdlog::memory_buf_t& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '"': append(out, "\\\""); break;
      case '\\': append(out, "\\\\"); break;
      case '\n': append(out, "\\n"); break;
      case '\r': append(out, "\\r"); break;
      case '\t': append(out, "\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          append(out, esc);
        } else {
          out.push_back(c);
        }
    }
  }
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& out) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count() % 1'000'000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char time[40];
    const std::size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(time + n, sizeof time - n, ".%06lldZ", static_cast<long long>(micros));
    append(out, "{\"time\":\"");
    append(out, time);
    append(out, "\",\"level\":\"");
    const auto level = spdlog::level::to_string_view(msg.level);
    append(out, std::string_view(level.data(), level.size()));
    append(out, "\",\"logger\":\"");
    append_escaped(out, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    append(out, "\",\"message\":\"");
    append_escaped(out, std::string_view(msg.payload.data(), msg.payload.size()));
    append(out, "\"}\n");
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> make_json_log_formatter() { return std::make_unique<JsonFormatter>(); }

std::shared_ptr<spdlog::logger> make_logger(const LogOptions& options) {
  auto logger = std::make_shared<spdlog::logger>(
      "pggat", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(options.level);
  if (options.format == LogOptions::Format::json) logger->set_formatter(make_json_log_formatter());
  return logger;
}

}  // namespace pggat
