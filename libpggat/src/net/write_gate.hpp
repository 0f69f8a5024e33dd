// WriteGate: one writer at a time on a connection whose two relay directions may both write to it.
#pragma once

#include <memory>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include "net/stream.hpp"

namespace pggat::net {

// An async_write is several write() calls; two interleaved on one socket would
// mix their bytes. Uncontended (the common case: only middlewares that answer
// the other side ever contend), entering costs one flag test.
class WriteGate {
 public:
  [[nodiscard]] bool try_enter() {
    if (busy_) return false;
    busy_ = true;
    return true;
  }

  // Waits for the gate; on return the caller holds it (or gave up: cancelled).
  asio::awaitable<bool> enter() {
    if (try_enter()) co_return true;
    auto ticket = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                       asio::steady_timer::time_point::max());
    if (!queue_) queue_ = std::make_unique<Queue>();
    queue_->waiting.push_back(ticket);
    (void)co_await ticket->async_wait(use_nothrow);
    if (queue_->handed == ticket) {
      queue_->handed.reset();
      co_return true;
    }
    std::erase(queue_->waiting, ticket);  // cancelled while waiting
    co_return false;
  }

  void leave() {
    if (!queue_ || queue_->waiting.empty()) {
      busy_ = false;
      return;
    }
    auto& handed = queue_->handed;
    handed = queue_->waiting.front();  // stays busy: ownership passes on
    queue_->waiting.erase(queue_->waiting.begin());
    handed->cancel();
  }

 private:
  // Behind a pointer, made at the first wait: every connection has a gate
  // (an idle client keeps it), almost none ever has a waiter.
  struct Queue {
    std::vector<std::shared_ptr<asio::steady_timer>> waiting;
    std::shared_ptr<asio::steady_timer> handed;
  };
  bool busy_ = false;
  std::unique_ptr<Queue> queue_;
};

// Holds a gate for a scope.
class GateHold {
 public:
  explicit GateHold(WriteGate& gate, bool held) : gate_(gate), held_(held) {}
  GateHold(const GateHold&) = delete;
  GateHold& operator=(const GateHold&) = delete;
  ~GateHold() {
    if (held_) gate_.leave();
  }
  [[nodiscard]] bool held() const { return held_; }

 private:
  WriteGate& gate_;
  bool held_;
};

}  // namespace pggat::net
