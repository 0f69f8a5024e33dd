// Middleware: a packet interceptor on a client<->server conversation.
#pragma once

#include <functional>
#include <memory>

#include "pggat/client.hpp"
#include "pggat/export.hpp"
#include "pggat/proto/bytes.hpp"
#include "pggat/proto/frame.hpp"
#include "pggat/proto/message_types.hpp"

namespace pggat {

enum class FilterStatus { Continue, Stop };

// What a middleware may do besides letting a message through: inject messages.
// Injected bytes are whole encoded messages; they are written in order with
// the messages around them.
class PGGAT_API MiddlewareContext {
 public:
  virtual ~MiddlewareContext() = default;
  virtual void send_to_client(proto::Bytes message) = 0;
  virtual void send_to_server(proto::Bytes message) = 0;
  [[nodiscard]] virtual const Client& client() const = 0;
};

// Ordering (as Envoy's network filters): messages from the client pass the
// middlewares first to last; messages from the server pass them last to first.
// A middleware sees only the types it declares, always as whole messages.
// Stop swallows the message (later middlewares do not see it).
class PGGAT_API Middleware {
 public:
  virtual ~Middleware() = default;
  [[nodiscard]] virtual proto::TypeSet client_types() const { return {}; }
  [[nodiscard]] virtual proto::TypeSet server_types() const { return {}; }
  virtual FilterStatus on_client_message(const proto::Frame& /*message*/, MiddlewareContext&) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus on_server_message(const proto::Frame& /*message*/, MiddlewareContext&) {
    return FilterStatus::Continue;
  }
};

// One middleware instance per client connection.
using MiddlewareFactory = std::function<std::unique_ptr<Middleware>(const Client&)>;

}  // namespace pggat
