// Every malloc of the process counted: the allocation tests' executable replaces malloc and friends.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pggat::test {

// glibc keeps freed blocks of up to this many bytes in a per-thread cache;
// a larger one is carved from the heap's bins and merged back into them, at
// some 400 instructions each way.
constexpr std::size_t thread_cache_limit = 1032;

struct AllocationCount {
  std::uint64_t all = 0;
  std::uint64_t big = 0;  // over thread_cache_limit
};
// What the process allocated so far, on threads not ignored.
[[nodiscard]] AllocationCount allocations_so_far();
// Allocations on the calling thread are not counted while set (a client
// driving pggat from the test's thread).
void ignore_this_thread(bool ignore);

}  // namespace pggat::test

// Set while counting, so a debugger can break on malloc only then:
//   gdb -ex 'break malloc if pggat_counting_allocations == 1' -ex 'commands' -ex 'bt 8' ...
extern "C" volatile int pggat_counting_allocations;
