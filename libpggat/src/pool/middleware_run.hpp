// MiddlewareRun: a client's middlewares applied to the messages of one direction.
#pragma once

#include <memory>
#include <span>

#include "pggat/middleware.hpp"
#include "pggat/proto/frame.hpp"
#include "pool/pump.hpp"
#include "proto/conversation.hpp"

namespace pggat::pool {

// Runs the middlewares that declared a message type, and collects what they
// inject. Client messages pass them first to last, server messages last to first.
class MiddlewareRun final : public MiddlewareContext {
 public:
  // What middlewares inject is appended to `out`, which the caller's pump writes.
  MiddlewareRun(std::span<const std::unique_ptr<Middleware>> middlewares, const Client& client,
                proto::Conversation& state, bool from_client, Injections& out)
      : middlewares_(middlewares),
        client_(client),
        state_(state),
        from_client_(from_client),
        injections_(out) {
    for (const auto& m : middlewares_) {
      const proto::TypeSet types = from_client ? m->client_types() : m->server_types();
      for (int t = 0; t < 256; ++t)
        if (types.contains(static_cast<char>(t))) types_.add(static_cast<char>(t));
    }
  }

  [[nodiscard]] bool wants(char type) const { return types_.contains(type); }
  [[nodiscard]] Injections* injections() { return middlewares_.empty() ? nullptr : &injections_; }

  // False when a middleware stopped the message.
  bool run(char type, proto::Bytes body) {
    const proto::Frame frame{type, body};
    const std::size_t n = middlewares_.size();
    for (std::size_t i = 0; i < n; ++i) {
      Middleware& m = *middlewares_[from_client_ ? i : n - 1 - i];
      const proto::TypeSet types = from_client_ ? m.client_types() : m.server_types();
      if (!types.contains(type)) continue;
      const FilterStatus status = from_client_ ? m.on_client_message(frame, *this)
                                               : m.on_server_message(frame, *this);
      if (status == FilterStatus::Stop) return false;
    }
    return true;
  }

  void send_to_client(proto::Bytes message) override {
    proto::append(from_client_ ? injections_.reply : injections_.forward, message);
  }
  void send_to_server(proto::Bytes message) override {
    proto::append(from_client_ ? injections_.forward : injections_.reply, message);
    // The server will answer what is injected: keep the bookkeeping right.
    proto::Bytes rest = message;
    const proto::FrameRules any{proto::Direction::frontend,
                                proto::TypeSet::all_of(proto::frontend_messages),
                                proto::default_max_message_length};
    for (;;) {
      const auto f = proto::decode_frame(rest, any);
      if (f.status != proto::DecodeStatus::ok) break;
      state_.on_client(f.frame.type);
      rest = rest.subspan(f.consumed);
    }
  }
  [[nodiscard]] const Client& client() const override { return client_; }

 private:
  std::span<const std::unique_ptr<Middleware>> middlewares_;
  const Client& client_;
  proto::Conversation& state_;
  bool from_client_;
  proto::TypeSet types_;
  Injections& injections_;
};

}  // namespace pggat::pool
