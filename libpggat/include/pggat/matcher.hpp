// Matcher: decides whether a route applies to a client.
#pragma once

#include "pggat/client.hpp"
#include "pggat/export.hpp"

namespace pggat {

// Matchers run once per connection, on the startup data as the client sent it,
// before any handler rewrites it. They must not block.
class PGGAT_API Matcher {
 public:
  virtual ~Matcher() = default;
  [[nodiscard]] virtual bool matches(const Client& client) const = 0;
};

}  // namespace pggat
