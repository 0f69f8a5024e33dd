// io_executor: the io_context behind a type-erased executor, or a clear refusal.
#include "net/io_executor.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <catch2/catch.hpp>
#include <stdexcept>

using pggat::net::io_executor;

TEST_CASE("io_executor finds the io_context behind a type-erased executor", "[net]") {
  asio::io_context io(1);
  CHECK(io_executor(asio::any_io_executor(io.get_executor())) == io.get_executor());
  auto work = asio::make_work_guard(io);
  CHECK(io_executor(asio::any_io_executor(asio::prefer(io.get_executor(),
                                                         asio::execution::outstanding_work.tracked))) ==
        io.get_executor());
}

TEST_CASE("io_executor refuses a strand rather than drop it", "[net]") {
  asio::io_context io(1);
  CHECK_THROWS_AS(io_executor(asio::any_io_executor(asio::make_strand(io))), std::invalid_argument);
}

TEST_CASE("io_executor refuses an executor with no io_context", "[net]") {
  asio::thread_pool pool(1);
  CHECK_THROWS_AS(io_executor(asio::any_io_executor(pool.get_executor())), std::invalid_argument);
  pool.join();
}
