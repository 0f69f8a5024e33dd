// ClientSession: pggat's side of one client connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "auth/scram_secret.hpp"
#include "net/address.hpp"
#include "net/connection.hpp"
#include "net/parking_lot.hpp"
#include "pggat/backend_key.hpp"
#include "pggat/client.hpp"
#include "pggat/handler.hpp"

namespace pggat {
class Pool;
}
namespace pggat::net {
class IoThreads;
}

namespace pggat::detail {

struct ScramPassThrough {
  std::string secret;  // the SCRAM-SHA-256$... text the client proved
  auth::ScramKeys keys;
};

// Owns the socket and buffers of a client; Client is the view routes get.
class ClientSession {
 public:
  static inline const std::string no_address;
  struct Facts {
    std::uint64_t id = 0;
    // The listener's bound address, not a copy per client: the App keeps
    // its listeners, closed ones too, until its last client has gone.
    const std::string* local_address = &no_address;
    std::string remote_address;
    std::uint32_t max_message_size = proto::default_max_message_length;
    bool unix_socket = false;
    // Bounds the startup packets (startup_deadline), then the password exchange.
    std::chrono::nanoseconds startup_timeout = std::chrono::seconds(15);
  };

  ClientSession(net::Socket socket, Facts facts, BackendKey key)
      : conn(std::move(socket)),
        facts(std::move(facts)),
        key(key),
        startup_deadline(startup_deadline_after(this->facts.startup_timeout)) {
    conn.stream.set_drained_reads(net::Stream::DrainedReads::client);
  }

  net::Connection conn;
  const Facts facts;
  const BackendKey key;  // the one pggat gave the client
  bool ssl = false;  // the startup ran over TLS
  // The client sent Terminate or closed its end: none of our messages is
  // left for it to read, so the connection closes without the drain of
  // Stream::close_gracefully (a connection per transaction pays for it).
  bool left = false;
  // RFC 5929 tls-server-end-point of our certificate on a TLS connection
  // (null on plain ones): ScramServerOptions::channel_binding for
  // SCRAM-SHA-256-PLUS. Empty inside when the certificate leaves it undefined.
  [[nodiscard]] const std::vector<std::uint8_t>* tls_server_end_point() const {
    return tls_server_end_point_.get();
  }
  void set_tls(std::vector<std::uint8_t> end_point) {
    ssl = true;
    tls_server_end_point_ = std::make_unique<const std::vector<std::uint8_t>>(std::move(end_point));
  }
  Client client{*this};
  // Set when the client proved a SCRAM secret: enough to log in to a server
  // holding the same secret. Behind a pointer, as what is kept per client
  // goes: most clients have none.
  std::unique_ptr<const ScramPassThrough> scram_pass_through;

  // The threads the client may move between, between units (IoThreads::
  // move_from; then the pool parks it on the other one with wait_parked_on).
  // Null: it stays where it was accepted.
  net::IoThreads* threads = nullptr;

  // The pool serving this client, while one does (the console's KILL finds
  // a pool's clients by it). Set by the client's thread, read by others.
  std::atomic<const Pool*> pool{nullptr};

  // The server running this client's queries now: where a CancelRequest goes.
  // Set and cleared by the client's thread (CancelTo), read by the one that
  // got the CancelRequest: hence the lock.
  struct CancelTarget {
    net::Address address;
    BackendKey key;
  };
  // While one lives, CancelRequests for this client go to `address`, which
  // must outlive it (a server's, held for the unit).
  class [[nodiscard]] CancelTo {
   public:
    CancelTo(ClientSession& session, const net::Address& address, BackendKey key) : session_(session) {
      std::lock_guard lock(session_.cancel_lock_);
      session_.cancel_address_ = &address;
      session_.cancel_key_ = key;
    }
    CancelTo(const CancelTo&) = delete;
    CancelTo& operator=(const CancelTo&) = delete;
    ~CancelTo() {
      std::lock_guard lock(session_.cancel_lock_);
      session_.cancel_address_ = nullptr;
    }

   private:
    ClientSession& session_;
  };
  [[nodiscard]] std::optional<CancelTarget> cancel_target() const {
    std::lock_guard lock(cancel_lock_);
    if (cancel_address_ == nullptr) return std::nullopt;
    return CancelTarget{*cancel_address_, cancel_key_};
  }

  // Parking: a pool may keep an idle client with no coroutine frame at all
  // (transaction pooling: an idle client then costs its session and what
  // the pool keeps). The pool parks the session and returns; its callers
  // return too, and the session's owner (the App) is put in its thread's
  // net::ParkingLot, which owns it until the client sends something.
  //
  // What owns the session; while it is parked, the parking lot owns it.
  class Owner : public net::ParkingLot::Spot {
   public:
    [[nodiscard]] virtual ClientSession& owned() = 0;
    // The pool is done with the client: `verdict` is what its serve would
    // have returned, and the owner does what it does after a serve.
    virtual void finish(std::unique_ptr<Owner> self, Verdict verdict) = 0;
    // The client's connection is on `executor`'s io_context from now on
    // (wait_parked_on): called on the thread it left, before it is parked
    // on the other one.
    virtual void moved_to(const net::IoExecutor& /*executor*/) {}

    net::Stream& parked_stream() final;
    void woken(std::unique_ptr<net::ParkingLot::Spot> self, std::error_code ec) final;
  };
  // Closes the client's connection, parked or not (a parked one is woken
  // with operation_aborted). On the client's thread, or with none running.
  static void close(Owner& owner);
  // What the pool keeps for a parked client, owned by the session.
  class Parked {
   public:
    virtual ~Parked() = default;
    // The client sent something, or the wait failed (`ec`: it left, or was
    // closed). The pool goes on with the client, parks it again with
    // wait_parked or gives it back with unpark.
    virtual void readable(std::unique_ptr<Owner> owner, std::error_code ec) = 0;
  };
  void park(std::unique_ptr<Parked> parked) { parked_ = std::move(parked); }
  [[nodiscard]] bool parked() const { return parked_ != nullptr; }
  // A client that was parked waits between units in a coroutine frame (a
  // busy one would pay for a coroutine per unit otherwise) until the App's
  // sweep finds it idle for a while (AppState::sweep_sessions) and
  // cancels the wait with park_requested set: then it is parked again.
  // Since when it waits, in coarse monotonic seconds; 0: it does not.
  std::atomic<std::uint32_t> waiting_since{0};
  bool park_requested = false;  // the client's thread only
  void begin_idle_wait() { waiting_since.store(idle_clock_seconds(), std::memory_order_relaxed); }
  // Whether the sweep asked for the client to be parked meanwhile.
  bool end_idle_wait() {
    waiting_since.store(0, std::memory_order_relaxed);
    return std::exchange(park_requested, false);
  }
  // Never 0.
  static std::uint32_t idle_clock_seconds();

  // Until when the client may take over its startup packets (TLS handshake
  // included), in idle-clock seconds; 0 once they are read, or with no
  // startup_timeout. The App's sweep, once a second, cancels the stream of a
  // client past it with startup_timed_out set (AppState::sweep_sessions),
  // where a timer per connection cost 5% of a connection's instructions. A
  // client gets its whole startup_timeout, and at most about 3 s more.
  std::atomic<std::uint32_t> startup_deadline;
  bool startup_timed_out = false;  // the client's thread only
  void end_startup() { startup_deadline.store(0, std::memory_order_relaxed); }
  // 0 for no timeout. One second more than the timeout rounded up: the
  // clock counts whole seconds, and the client must get all of it.
  static std::uint32_t startup_deadline_after(std::chrono::nanoseconds timeout);
  // In the parking lot now; read by the App for its figures.
  std::atomic<bool> waiting_parked{false};

  // Waits for a parked client to send something; the owner's to call when
  // the calls that served the client returned, and the pool's afterwards.
  static void wait_parked(std::unique_ptr<Owner> owner);
  // The same on another thread: the connection moves to `to`'s io_context
  // (Stream::move_to), the owner hears of it (Owner::moved_to), and the
  // client is parked there. Nothing of the client may be buffered. If that
  // io_context goes first, the owner goes with it, as parked clients do.
  static void wait_parked_on(std::unique_ptr<Owner> owner, const net::IoExecutor& to);
  // The pool's last word: drops what it kept and hands the client back.
  static void unpark(std::unique_ptr<Owner> owner, Verdict verdict);

 private:
  // A byte, where std::mutex is 40 per client: it is held for a few
  // instructions, and only a CancelRequest ever contends for it.
  class SpinLock {
   public:
    void lock() noexcept {
      while (locked_.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
    }
    void unlock() noexcept { locked_.clear(std::memory_order_release); }

   private:
    std::atomic_flag locked_;
  };
  mutable SpinLock cancel_lock_;
  const net::Address* cancel_address_ = nullptr;
  BackendKey cancel_key_{};
  // Behind a pointer: most clients have none.
  std::unique_ptr<const std::vector<std::uint8_t>> tls_server_end_point_;
  // Last: gone before the connection it may refer to.
  std::unique_ptr<Parked> parked_;
};

}  // namespace pggat::detail
