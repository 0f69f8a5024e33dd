// A host that loads libpggat.so at run time (a plugin host, Python's ctypes): it loads.
//
// The library's thread-locals use the initial-exec TLS model (libpggat/meson.build),
// which a dlopen'ed library can only have while glibc's spare static TLS
// holds them; this is the check that it does.
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

TEST_CASE("libpggat.so loads with dlopen, its thread-locals included", "[public]") {
  const char* path = std::getenv("PGGAT_SHARED_LIBRARY");
  REQUIRE(path != nullptr);
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  const char* why = handle == nullptr ? dlerror() : nullptr;
  INFO("dlopen(" << path << "): " << (why != nullptr ? why : "ok"));
  REQUIRE(handle != nullptr);
  // An exported function of the public API is there to be called.
  CHECK(dlsym(handle, "_ZN5pggat15make_basic_poolENS_16BasicPoolOptionsE") != nullptr);
  CHECK(dlclose(handle) == 0);
}
