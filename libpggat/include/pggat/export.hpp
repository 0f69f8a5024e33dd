// Symbol visibility: libpggat is built with hidden visibility; the public API is
// marked with PGGAT_API so that only it is exported from libpggat.so.
#pragma once

#define PGGAT_API __attribute__((visibility("default")))
