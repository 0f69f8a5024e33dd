// ClientSession: pggat's side of one client connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <vector>

#include "auth/scram_secret.hpp"
#include "net/address.hpp"
#include "net/connection.hpp"
#include "pggat/backend_key.hpp"
#include "pggat/client.hpp"

namespace pggat {
class Pool;
}

namespace pggat::detail {

struct ScramPassThrough {
  std::string secret;  // the SCRAM-SHA-256$... text the client proved
  auth::ScramKeys keys;
};

// Owns the socket and buffers of a client; Client is the view routes get.
class ClientSession {
 public:
  struct Facts {
    std::uint64_t id = 0;
    bool unix_socket = false;
    std::string local_address;
    std::string remote_address;
    std::uint32_t max_message_size = proto::default_max_message_length;
    // Bounds the startup packets and authentication together.
    std::chrono::nanoseconds startup_timeout = std::chrono::seconds(15);
  };

  ClientSession(net::Socket socket, Facts facts, BackendKey key)
      : conn(std::move(socket)), facts(std::move(facts)), key(key) {}

  net::Connection conn;
  const Facts facts;
  const BackendKey key;  // the one pggat gave the client
  bool ssl = false;  // the startup ran over TLS
  // The client sent Terminate or closed its end: none of our messages is
  // left for it to read, so the connection closes without the drain of
  // Stream::close_gracefully (a connection per transaction pays for it).
  bool left = false;
  // RFC 5929 tls-server-end-point of our certificate on a TLS connection
  // (nullopt on plain ones): ScramServerOptions::channel_binding for
  // SCRAM-SHA-256-PLUS. Empty inside when the certificate leaves it undefined.
  [[nodiscard]] const std::optional<std::vector<std::uint8_t>>& tls_server_end_point() const {
    return tls_server_end_point_;
  }
  void set_tls(std::vector<std::uint8_t> end_point) {
    ssl = true;
    tls_server_end_point_ = std::move(end_point);
  }
  Client client{*this};
  // Set when the client proved a SCRAM secret: enough to log in to a server
  // holding the same secret. Behind a pointer, as what is kept per client
  // goes: most clients have none.
  std::unique_ptr<const ScramPassThrough> scram_pass_through;

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
  std::optional<std::vector<std::uint8_t>> tls_server_end_point_;
};

}  // namespace pggat::detail
