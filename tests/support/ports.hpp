// Free TCP ports for tests, chosen at run time.
#pragma once

#include <cstdint>

namespace pggat::test {

// A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the
// port the kernel picked, closes. Someone else may take it before the caller
// binds it, so callers that can retry should.
[[nodiscard]] std::uint16_t free_tcp_port();

}  // namespace pggat::test
