// Timeouts for awaitables: race the operation against a timer.
#pragma once

#include <chrono>
#include <optional>
#include <type_traits>

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include "net/stream.hpp"

namespace pggat::net {

namespace detail {
// Asio's operator|| flattens a std::variant result into its own variant, so
// the operation's result is boxed in an optional first to keep indexes fixed.
template <class T>
asio::awaitable<std::optional<T>> boxed(asio::awaitable<T> op) {
  co_return std::optional<T>(co_await std::move(op));
}
}  // namespace detail

// The operation's result, or nullopt when `limit` passed first (the operation
// is cancelled then). A zero or negative limit means no limit.
template <class T>
asio::awaitable<std::optional<T>> with_timeout(asio::awaitable<T> op,
                                               std::chrono::nanoseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  if (limit <= std::chrono::nanoseconds::zero()) co_return co_await std::move(op);
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::duration_cast<asio::steady_timer::duration>(limit));
  auto result = co_await (detail::boxed(std::move(op)) || timer.async_wait(use_nothrow));
  if (result.index() == 0) co_return std::move(std::get<0>(result));
  co_return std::nullopt;
}

}  // namespace pggat::net
