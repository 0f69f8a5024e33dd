// Direct awaits: what an operation needs to resume the coroutine awaiting it from its own completion handler.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/version.hpp>

// A direct await takes Asio's coroutine internals (asio/impl/awaitable.hpp)
// as they are in 1.22, Debian 12's; with other versions the operations that
// use it fall back to a plain coroutine around use_awaitable.
#if ASIO_VERSION >= 102200 && ASIO_VERSION < 102300
#define PGGAT_AWAIT_DIRECTLY 1
#else
#define PGGAT_AWAIT_DIRECTLY 0
#endif

#if PGGAT_AWAIT_DIRECTLY
namespace pggat::net {

// `co_await f` in an asio::awaitable coroutine, for a function object f
// taking the suspended coroutine's frame and returning an AwaitingThread*,
// calls f once the coroutine is suspended (asio::awaitable's
// await_transform; Asio starts its own operations that way). f starts the
// operation with a handler that resumes the coroutine (direct_await_impl.hpp).
using AwaitingFrame = asio::detail::awaitable_frame_base<asio::any_io_executor>;
using AwaitingThread = asio::detail::awaitable_thread<asio::any_io_executor>;

}  // namespace pggat::net
#endif
