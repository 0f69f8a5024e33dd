// Route: a matcher and the handler that takes the clients it matches.
#pragma once

#include <memory>

#include "pggat/handler.hpp"
#include "pggat/matcher.hpp"

namespace pggat {

struct Route {
  std::shared_ptr<const Matcher> match;  // null matches every client
  std::shared_ptr<Handler> handle;
};

}  // namespace pggat
