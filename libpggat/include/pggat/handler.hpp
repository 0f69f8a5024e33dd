// Handler: what a route does with a client it matched.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <asio/awaitable.hpp>

#include "pggat/client.hpp"
#include "pggat/context.hpp"
#include "pggat/export.hpp"
#include "pggat/pg_error.hpp"

namespace pggat {

class Pool;

// A handler's answer: pass the client to the next matching route, finish with
// it (the connection is closed), or fail it with an error sent before closing.
class PGGAT_API Verdict {
 public:
  enum class Kind { next, done, fail };

  static Verdict next() { return Verdict(Kind::next, nullptr); }
  static Verdict done() { return Verdict(Kind::done, nullptr); }
  static Verdict fail(PgError error) {
    return Verdict(Kind::fail, std::make_shared<const PgError>(std::move(error)));
  }

  [[nodiscard]] Kind kind() const { return kind_; }
  // Only for Kind::fail.
  [[nodiscard]] const PgError& error() const { return *error_; }

 private:
  Verdict(Kind kind, std::shared_ptr<const PgError> error) : kind_(kind), error_(std::move(error)) {}
  Kind kind_;
  // Behind a pointer: a Verdict sits in every coroutine frame of a client's
  // call chain, for as long as the client is connected, and a PgError is
  // ten times the size of the rest.
  std::shared_ptr<const PgError> error_;
};

class PGGAT_API Handler {
 public:
  virtual ~Handler() = default;

  // Runs on the client's executor. A pool handler serves the whole session here.
  virtual asio::awaitable<Verdict> handle(Client& client) = 0;

  // Lifecycle: called once when the instance starts and when it stops, so
  // handlers that own pools can start and stop their background work.
  virtual void start(const Context& /*context*/) {}
  virtual void stop() {}

  // The pools it serves clients from, for metrics and the admin console
  // (App::pools()). A handler of the embedder's that owns pools returns them.
  [[nodiscard]] virtual std::vector<std::shared_ptr<Pool>> pools() const { return {}; }

  // A live reload (App::reload) made `newer` for this handler's place in the
  // config, from changed settings. Returning true means this running handler
  // took them over, keeping what it has (a pool handler: its pool and the
  // servers of unchanged recipes); `newer` is then dropped without starting.
  // False: `newer` takes new clients, and this one is stopped once its last
  // client has gone.
  virtual bool adopt(Handler& newer) {
    (void)newer;
    return false;
  }
};

}  // namespace pggat
