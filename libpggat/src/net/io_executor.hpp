// IoExecutor: the executor type every socket of pggat's is bound to.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/io_context.hpp>

namespace pggat::net {

// An io_context's own executor, not any_io_executor: 8 bytes instead of 56 in
// every socket and in every operation Asio allocates for one (an idle
// client's wait included), and no type-erased call per operation.
using IoExecutor = asio::io_context::executor_type;

// The io_context behind `executor` (as is or work-tracked). Throws
// std::invalid_argument for anything else, a strand included: pggat's
// connections run on io_contexts only.
[[nodiscard]] IoExecutor io_executor(const asio::any_io_executor& executor);

}  // namespace pggat::net
