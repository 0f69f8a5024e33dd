// Logging: pggat's spdlog logger as the config describes it (top-level "log").
#pragma once

#include <memory>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include "pggat/config.hpp"
#include "pggat/export.hpp"

namespace pggat {

// One JSON object per line: {"time":"2026-12-02T06:39:27.123456Z","level":"info",
// "logger":"pggat","message":"..."}, the message escaped as JSON requires.
[[nodiscard]] PGGAT_API std::unique_ptr<spdlog::formatter> make_json_log_formatter();

// A logger to stderr at options.level, as text (colored on a terminal) or JSON lines.
[[nodiscard]] PGGAT_API std::shared_ptr<spdlog::logger> make_logger(const LogOptions& options);

}  // namespace pggat
