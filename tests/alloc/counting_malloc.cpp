// Every malloc of the process counted; glibc's __libc_* entry points do the work.
#include "counting_malloc.hpp"

#include <cerrno>

namespace pggat::test {
namespace {
std::atomic<std::uint64_t> all_count{0};
std::atomic<std::uint64_t> big_count{0};
thread_local bool ignored = false;

void count(std::size_t n) {
  if (ignored) return;
  all_count.fetch_add(1, std::memory_order_relaxed);
  if (n > thread_cache_limit) big_count.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

AllocationCount allocations_so_far() { return {all_count.load(), big_count.load()}; }
void ignore_this_thread(bool ignore) { ignored = ignore; }

}  // namespace pggat::test

volatile int pggat_counting_allocations = 0;

using pggat::test::count;

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) {
  count(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t items, std::size_t n) {
  count(items * n);
  return __libc_calloc(items, n);
}
void* realloc(void* p, std::size_t n) {
  count(n);
  return __libc_realloc(p, n);
}
void* memalign(std::size_t align, std::size_t n) {
  count(n);
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  count(n);
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  count(n);
  *out = __libc_memalign(align, n);
  return *out != nullptr ? 0 : ENOMEM;
}
}
