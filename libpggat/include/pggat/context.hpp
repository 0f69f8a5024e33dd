// What long-lived components (pools, handlers) get from the instance that runs them.
#pragma once

#include <memory>

#include <asio/any_io_executor.hpp>
#include <spdlog/logger.h>

namespace pggat {

struct Context {
  asio::any_io_executor executor{};
  std::shared_ptr<spdlog::logger> log{};
};

}  // namespace pggat
