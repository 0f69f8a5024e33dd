// io_executor: finding the io_context behind a type-erased executor.
#include "net/io_executor.hpp"

#include <stdexcept>
#include <typeinfo>

#include <asio/execution/outstanding_work.hpp>
#include <asio/require.hpp>
#include <asio/strand.hpp>

namespace pggat::net {

IoExecutor io_executor(const asio::any_io_executor& executor) {
  // The forms an io_context's executor takes when it is made an
  // any_io_executor: as is and tracking work (executor_work_guard, co_spawn's
  // own). A strand is refused, not unwrapped: a socket bound to the bare
  // io_context would run its handlers outside the strand the host relies on.
  using Tracked = std::decay_t<decltype(asio::require(std::declval<IoExecutor>(),
                                                      asio::execution::outstanding_work.tracked))>;
  // Asio 1.22's target<T>() casts without comparing types: compare first.
  const std::type_info& type = executor.target_type();
  if (type == typeid(IoExecutor)) return *executor.target<IoExecutor>();
  if (type == typeid(Tracked)) return executor.target<Tracked>()->context().get_executor();
  if (type == typeid(asio::strand<IoExecutor>))
    throw std::invalid_argument(
        "pggat does not run on a strand: its handlers would not be serialized by it; pass the io_context's executor");
  throw std::invalid_argument("pggat runs connections on an io_context: the executor given is not an io_context's");
}

}  // namespace pggat::net
