// Running an io_context until a condition holds, for at most a few seconds: tests of the net layer.
#pragma once

#include <chrono>

#include <asio/io_context.hpp>

namespace pggat::test {

// Runs `io` until `done()`, giving up after five seconds; what `done()` then says.
template <class Done>
bool run_until(asio::io_context& io, Done done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < give_up) io.run_one_for(std::chrono::milliseconds(100));
  return done();
}

}  // namespace pggat::test
