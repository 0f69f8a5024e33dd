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
  // any_io_executor: as is, tracking work (executor_work_guard, co_spawn's
  // own), and in a strand.
  using Tracked = std::decay_t<decltype(asio::require(std::declval<IoExecutor>(),
                                                      asio::execution::outstanding_work.tracked))>;
  // Asio 1.22's target<T>() casts without comparing types: compare first.
  const std::type_info& type = executor.target_type();
  if (type == typeid(IoExecutor)) return *executor.target<IoExecutor>();
  if (type == typeid(Tracked)) return executor.target<Tracked>()->context().get_executor();
  if (type == typeid(asio::strand<IoExecutor>)) return executor.target<asio::strand<IoExecutor>>()->get_inner_executor();
  throw std::invalid_argument("pggat runs connections on an io_context: the executor given is not an io_context's");
}

}  // namespace pggat::net
