// ParkingLot: idle connections watched outside Asio's reactor, one epoll set per io_context.
#pragma once

#include <cstdint>
#include <memory>
#include <system_error>

#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

namespace pggat::net {

class Stream;

// A socket in Asio's reactor costs its per-descriptor state (168 bytes) and a
// pending wait (88 more): most of what an idle client costs. A connection
// parked here a while leaves the reactor for the lot's own epoll set, which
// is one descriptor in the reactor for all of them; it then costs the two
// links of its Spot.
//
// Leaving the reactor and coming back costs four system calls more than a
// wait in it, too much for a client that connects, sends one query and goes
// (pgbench -C: parked between its greeting and its query, a round trip). So
// a spot is parked in two steps: first with a plain wait in the reactor
// ("light"); the lot's sweep, every light_ms, moves those parked at least
// that long to its epoll set ("deep"). Short, so that clients arriving by
// the thousand are not all light at once. A woken deep
// spot's descriptor stays in the set, disarmed (EPOLLONESHOT), until it is
// parked deep again (re-armed) or closed.
//
// A lot belongs to one io_context and is used on its thread only (or, like
// the rest of the io_context, while no thread runs it).
class ParkingLot : public asio::execution_context::service {
 public:
  struct Links {
    Links* prev = nullptr;
    Links* next = nullptr;  // non-null while in a list (they are circular)
  };

  // What is parked: its owner derives from Spot. While parked, the spot is
  // owned by its pending wait (light) or by the lot (deep); the lot's
  // io_context deletes what is still parked when it goes. No allocation per
  // park beyond the light wait's operation.
  class Spot : private Links {
   public:
    Spot() = default;
    Spot(const Spot&) = delete;
    Spot& operator=(const Spot&) = delete;
    virtual ~Spot();

    // The connection watched while parked.
    [[nodiscard]] virtual Stream& parked_stream() = 0;
    // Called once per park, on the lot's thread, with ownership back: no
    // error when data, end of file or an error is waiting on the stream (it
    // is in the reactor, to be read); operation_aborted when it was closed
    // while parked; another error when it could not be parked.
    virtual void woken(std::unique_ptr<Spot> self, std::error_code ec) = 0;

    [[nodiscard]] bool is_parked() const { return phase_ != ParkPhase::out; }
    [[nodiscard]] bool is_parked_deep() const { return phase_ == ParkPhase::deep; }

   private:
    friend class ParkingLot;
    // kept: light for good, when the lot could not take it deep (no epoll
    // set, a TLS stream, the kernel's epoll limits): it waits in the reactor
    // as before parking lots, outside the sweep's list.
    enum class ParkPhase : std::uint8_t { out, light, moving, deep, kept };
    ParkPhase phase_ = ParkPhase::out;
    std::uint32_t parked_at_ = 0;  // coarse milliseconds, for the sweep
  };

  using key_type = ParkingLot;
  static asio::execution_context::id id;

  explicit ParkingLot(asio::execution_context& context);
  ~ParkingLot() override;

  // The lot of the io_context `stream` runs on.
  static ParkingLot& of(Stream& stream);

  // Watches the spot's stream until something arrives (see Spot::woken).
  // The spot is woken from the io_context, never inside this call. A TLS
  // stream is never taken deep (its engine's buffered bytes show on no
  // descriptor), and neither is anything when the lot has no epoll set (a
  // process out of descriptors when the lot was made): they stay light.
  void park(std::unique_ptr<Spot> spot);

  // Closes a parked spot's stream (or one not parked); a parked spot is
  // woken with operation_aborted from the io_context (or deleted with it, if
  // it never runs again).
  static void close(Spot& spot);

  // Spots parked light (moving ones included, kept ones not) and deep.
  [[nodiscard]] std::size_t light_count() const { return light_count_; }
  [[nodiscard]] std::size_t deep_count() const { return deep_count_; }

  // How long a spot stays light at least; the sweep runs as often.
  static constexpr std::uint32_t light_ms = 50;

  void shutdown() override;

 private:
  static Spot& spot_of(Links* links) { return static_cast<Spot&>(*links); }
  static void link(Links& head, Spot& spot);
  static void unlink(Spot& spot);
  static std::uint32_t now_ms();
  // Makes the epoll set if there is none yet; false when it cannot be made.
  bool open_epoll();

  void wait_light(std::unique_ptr<Spot> spot);
  void light_ended(std::unique_ptr<Spot> spot, std::error_code ec);
  void park_deep(std::unique_ptr<Spot> spot);
  void keep_light(std::unique_ptr<Spot> spot);
  void arm_sweep();
  void sweep();
  void arm_watcher();
  void drain();
  // Hands the spot back to its owner, out of the lot, now or from the io_context.
  static void wake(std::unique_ptr<Spot> spot, std::error_code ec);
  void wake_later(std::unique_ptr<Spot> spot, std::error_code ec);

  asio::io_context& io_;
  int epoll_fd_ = -1;  // the lot's epoll set; -1 until one could be made
  asio::posix::stream_descriptor watcher_;
  asio::steady_timer sweep_timer_;
  Links light_;  // circular lists' sentinels; light_ in the order parked
  Links deep_;
  std::size_t light_count_ = 0;
  std::size_t deep_count_ = 0;
  bool watcher_armed_ = false;
  bool sweep_armed_ = false;
  bool shut_down_ = false;
};

}  // namespace pggat::net
