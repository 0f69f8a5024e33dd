// ParkingLot: a light wait in the reactor first, then the lot's own epoll set, drained when it is readable.
#include "net/parking_lot.hpp"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include <asio/bind_allocator.hpp>
#include <asio/post.hpp>

#include "net/stream.hpp"

namespace pggat::net {

asio::execution_context::id ParkingLot::id;

namespace {

// Plain new and delete for the light wait's operation. Asio's default hands
// an operation any cached block big enough: a parked client's wait, small
// and long-lived, sat in a 224-byte block left by a receive.
template <class T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>& /*other*/) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t /*n*/) noexcept { ::operator delete(p); }
  template <class U>
  bool operator==(const ExactAllocator<U>& /*other*/) const noexcept {
    return true;
  }
};

}  // namespace

ParkingLot::Spot::~Spot() {
  // Deleted while still in a list (its io_context destroyed a light wait's
  // handler before the lot's shutdown ran): it leaves the list itself.
  if (next != nullptr) {
    prev->next = next;
    next->prev = prev;
  }
}

ParkingLot::ParkingLot(asio::execution_context& context)
    : asio::execution_context::service(context),
      io_(static_cast<asio::io_context&>(context)),
      watcher_(io_),
      sweep_timer_(io_) {
  light_.prev = light_.next = &light_;
  deep_.prev = deep_.next = &deep_;
  (void)open_epoll();
}

bool ParkingLot::open_epoll() {
  if (epoll_fd_ >= 0) return true;
  if (shut_down_) return false;
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return false;  // out of descriptors, say: tried again at the next park
  std::error_code ec;
  watcher_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    return false;
  }
  epoll_fd_ = fd;
  return true;
}

ParkingLot::~ParkingLot() { shutdown(); }

ParkingLot& ParkingLot::of(Stream& stream) {
  return asio::use_service<ParkingLot>(static_cast<asio::execution_context&>(stream.get_executor().context()));
}

std::uint32_t ParkingLot::now_ms() {
  // The coarse clock (a few milliseconds' resolution) is enough for the
  // sweep, and read without a system call.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<std::uint32_t>(now.tv_sec * 1000 + now.tv_nsec / 1'000'000);
}

void ParkingLot::link(Links& head, Spot& spot) {
  Links& s = spot;
  s.prev = head.prev;
  s.next = &head;
  head.prev->next = &s;
  head.prev = &s;
}

void ParkingLot::unlink(Spot& spot) {
  Links& s = spot;
  s.prev->next = s.next;
  s.next->prev = s.prev;
  s.prev = s.next = nullptr;
}

void ParkingLot::park(std::unique_ptr<Spot> spot) {
  if (spot->parked_stream().is_tls() || !open_epoll()) return keep_light(std::move(spot));
  spot->phase_ = Spot::ParkPhase::light;
  spot->parked_at_ = now_ms();
  link(light_, *spot);
  ++light_count_;
  wait_light(std::move(spot));
  arm_sweep();
}

void ParkingLot::wait_light(std::unique_ptr<Spot> spot) {
  Socket& socket = spot->parked_stream().socket();
  // A closed socket's wait ends at once with bad_descriptor: the spot is
  // woken with it.
  socket.async_wait(Socket::wait_read,
                    asio::bind_allocator(ExactAllocator<void>{},
                                         [this, spot = std::move(spot)](std::error_code ec) mutable {
                                           light_ended(std::move(spot), ec);
                                         }));
}

void ParkingLot::keep_light(std::unique_ptr<Spot> spot) {
  spot->phase_ = Spot::ParkPhase::kept;
  wait_light(std::move(spot));
}

void ParkingLot::light_ended(std::unique_ptr<Spot> spot, std::error_code ec) {
  const bool to_deep = spot->phase_ == Spot::ParkPhase::moving && ec == asio::error::operation_aborted;
  if (spot->phase_ != Spot::ParkPhase::kept) {
    unlink(*spot);
    --light_count_;
  }
  if (to_deep) return park_deep(std::move(spot));
  wake(std::move(spot), ec);
}

void ParkingLot::park_deep(std::unique_ptr<Spot> spot) {
  Stream& stream = spot->parked_stream();
  std::error_code ec;
  const int fd = stream.leave_reactor(ec);
  if (ec) {
    // Closed meanwhile, or not a socket that can leave: what a wait in the
    // reactor would tell, it tells now.
    return wake(std::move(spot), ec);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.ptr = static_cast<Links*>(spot.get());
  if (::epoll_ctl(epoll_fd_, stream.in_parking_set() ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
    // The kernel's epoll limits (max_user_watches), say: the client is no
    // worse off in the reactor.
    if (const auto rejoin_ec = stream.rejoin_reactor()) return wake(std::move(spot), rejoin_ec);
    return keep_light(std::move(spot));
  }
  stream.set_in_parking_set();
  spot->phase_ = Spot::ParkPhase::deep;
  link(deep_, *spot.release());
  ++deep_count_;
  arm_watcher();
}

void ParkingLot::close(Spot& spot) {
  Stream& stream = spot.parked_stream();
  switch (spot.phase_) {
    case Spot::ParkPhase::out:
      stream.close();
      return;
    case Spot::ParkPhase::light:
    case Spot::ParkPhase::moving:
    case Spot::ParkPhase::kept:
      // Its wait ends with operation_aborted, and wakes it so.
      if (spot.phase_ == Spot::ParkPhase::moving) spot.phase_ = Spot::ParkPhase::light;
      stream.close();
      return;
    case Spot::ParkPhase::deep: {
      ParkingLot& lot = of(stream);
      unlink(spot);
      // The last deep spot gone, the watcher's wait goes too: a pending wait
      // would keep the io_context's run() from ever running out of work.
      if (--lot.deep_count_ == 0 && lot.watcher_armed_) {
        std::error_code ignored;
        lot.watcher_.cancel(ignored);
      }
      spot.phase_ = Spot::ParkPhase::out;
      stream.close();  // the descriptor leaves the epoll set with its last close
      lot.wake_later(std::unique_ptr<Spot>(&spot), make_error_code(asio::error::operation_aborted));
      return;
    }
  }
}

void ParkingLot::wake(std::unique_ptr<Spot> spot, std::error_code ec) {
  spot->phase_ = Spot::ParkPhase::out;
  Spot& s = *spot;  // before the move: the call's arguments may be evaluated first
  s.woken(std::move(spot), ec);
}

void ParkingLot::wake_later(std::unique_ptr<Spot> spot, std::error_code ec) {
  // A handler destroyed unrun deletes the spot.
  asio::post(io_, [spot = std::move(spot), ec]() mutable { wake(std::move(spot), ec); });
}

void ParkingLot::arm_sweep() {
  // Left to expire when the last light spot goes: re-arming it for each
  // short park would cost a timer update (a system call) each time.
  if (sweep_armed_ || light_count_ == 0) return;
  sweep_armed_ = true;
  sweep_timer_.expires_after(std::chrono::milliseconds(light_ms));
  sweep_timer_.async_wait([this](std::error_code ec) {
    sweep_armed_ = false;
    if (ec == asio::error::operation_aborted) return;
    sweep();
  });
}

void ParkingLot::sweep() {
  const std::uint32_t now = now_ms();
  for (Links* l = light_.next; l != &light_;) {
    Spot& spot = spot_of(l);
    l = l->next;
    if (spot.phase_ == Spot::ParkPhase::moving) continue;  // its wait's end is on its way
    // The list is in the order parked: the rest are younger.
    if (now - spot.parked_at_ < light_ms) break;
    spot.phase_ = Spot::ParkPhase::moving;
    spot.parked_stream().cancel();  // light_ended goes on with it
  }
  arm_sweep();
}

void ParkingLot::arm_watcher() {
  if (watcher_armed_ || deep_count_ == 0) return;
  watcher_armed_ = true;
  watcher_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
    watcher_armed_ = false;
    // Cancelled when the set emptied; spots parked deep since need a wait.
    if (ec != asio::error::operation_aborted) drain();
    arm_watcher();
  });
}

void ParkingLot::drain() {
  constexpr int batch = 64;
  std::array<epoll_event, batch> events;
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, events.data(), batch, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    // Every ready spot leaves the list before any is woken: a woken owner's
    // code may close other parked clients, which must not find these.
    std::array<Spot*, batch> ready;
    for (int i = 0; i < n; ++i) {
      Spot& spot = spot_of(static_cast<Links*>(events[i].data.ptr));
      unlink(spot);
      --deep_count_;
      spot.phase_ = Spot::ParkPhase::out;
      ready[i] = &spot;
    }
    for (int i = 0; i < n; ++i) {
      std::unique_ptr<Spot> spot(ready[i]);
      const std::error_code ec = spot->parked_stream().rejoin_reactor();
      wake(std::move(spot), ec);
    }
    if (n < batch) return;
  }
}

void ParkingLot::shutdown() {
  // The io_context is going. Light spots belong to their waits, whose
  // handlers it destroys; deep ones belong to the lot and go now.
  while (light_.next != &light_) {
    Spot& spot = spot_of(light_.next);
    unlink(spot);
    spot.phase_ = Spot::ParkPhase::out;
  }
  light_count_ = 0;
  while (deep_.next != &deep_) {
    Spot& spot = spot_of(deep_.next);
    unlink(spot);
    spot.phase_ = Spot::ParkPhase::out;
    spot.parked_stream().close();
    delete &spot;
  }
  deep_count_ = 0;
  std::error_code ignored;
  sweep_timer_.cancel();
  watcher_.close(ignored);  // closes epoll_fd_
  epoll_fd_ = -1;
  shut_down_ = true;
}

}  // namespace pggat::net
