// Byte spans and buffers shared by the codec: views in, vectors out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace pggat::proto {

using Bytes = std::span<const std::byte>;
using Buffer = std::vector<std::byte>;

inline std::string_view as_string_view(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline void append(Buffer& out, Bytes b) { out.insert(out.end(), b.begin(), b.end()); }

}  // namespace pggat::proto
