// The (process id, secret key) pair of BackendKeyData and CancelRequest.
#pragma once

#include <cstdint>
#include <functional>

namespace pggat {

struct BackendKey {
  std::uint32_t process_id = 0;
  std::uint32_t secret_key = 0;
  friend bool operator==(const BackendKey&, const BackendKey&) = default;
};

}  // namespace pggat

template <>
struct std::hash<pggat::BackendKey> {
  std::size_t operator()(const pggat::BackendKey& k) const noexcept {
    return std::hash<std::uint64_t>{}((std::uint64_t{k.process_id} << 32) | k.secret_key);
  }
};
