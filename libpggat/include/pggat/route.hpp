// Route: a matcher and the handler that takes the clients it matches.
#pragma once

#include <memory>
#include <string>

#include "pggat/handler.hpp"
#include "pggat/matcher.hpp"

namespace pggat {

struct Route {
  std::shared_ptr<const Matcher> match;  // null matches every client
  std::shared_ptr<Handler> handle;
  // What the handler was made from (its config JSON), empty for one made in
  // code. A live reload keeps the running handler of a route whose source
  // did not change, with its pools and servers.
  std::string source{};
};

}  // namespace pggat
