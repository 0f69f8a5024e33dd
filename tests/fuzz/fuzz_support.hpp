// Shared by the libFuzzer targets: a check that aborts, so libFuzzer records the input.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace pggat::fuzz {

// assert() vanishes under NDEBUG; a fuzzer's own invariants must not.
inline void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

}  // namespace pggat::fuzz
