// Client: the public view of a ClientSession.
#include "frontend/client_session.hpp"

#include <time.h>

#include <algorithm>

#include <asio/post.hpp>

#include "pggat/proto/backend.hpp"

namespace pggat {

std::uint64_t Client::id() const { return session_->facts.id; }
bool Client::ssl() const { return session_->ssl; }
std::span<const std::uint8_t> Client::tls_server_end_point() const {
  const auto& end_point = session_->tls_server_end_point();
  if (!end_point) return {};
  return *end_point;
}
bool Client::is_unix_socket() const { return session_->facts.unix_socket; }
const std::string& Client::local_address() const { return *session_->facts.local_address; }
const std::string& Client::remote_address() const { return session_->facts.remote_address; }
BackendKey Client::backend_key() const { return session_->key; }

asio::awaitable<std::error_code> Client::send_error(const PgError& error) {
  net::Connection& conn = session_->conn;
  const bool notice = error.severity == "NOTICE" || error.severity == "WARNING" ||
                      error.severity == "INFO" || error.severity == "LOG" ||
                      error.severity == "DEBUG";
  if (notice)
    proto::be::NoticeResponse::encode(conn.out, error);
  else
    proto::be::ErrorResponse::encode(conn.out, error);
  co_return co_await net::flush(conn);
}

namespace detail {

std::uint32_t ClientSession::idle_clock_seconds() {
  // The coarse clock: read per unit, and a second is all the sweep needs.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<std::uint32_t>(now.tv_sec) + 1;
}

std::uint32_t ClientSession::startup_deadline_after(std::chrono::nanoseconds timeout) {
  if (timeout <= std::chrono::nanoseconds::zero()) return 0;
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(timeout).count();
  return idle_clock_seconds() + static_cast<std::uint32_t>(std::min<std::int64_t>(seconds, 1 << 30)) + 1;
}

void ClientSession::wait_parked(std::unique_ptr<Owner> owner) {
  ClientSession& session = owner->owned();
  session.waiting_parked.store(true, std::memory_order_relaxed);
  net::ParkingLot::of(session.conn.stream).park(std::move(owner));
}

void ClientSession::wait_parked_on(std::unique_ptr<Owner> owner, const net::IoExecutor& to) {
  ClientSession& session = owner->owned();
  if (session.conn.stream.get_executor() == to) return wait_parked(std::move(owner));
  session.conn.stream.move_to(to);
  // Not moved (a connection already closed, or one that could not leave
  // the reactor): parked here, where the next read says what happened.
  if (session.conn.stream.get_executor() != to) return wait_parked(std::move(owner));
  owner->moved_to(to);
  asio::post(to, [owner = std::move(owner)]() mutable { wait_parked(std::move(owner)); });
}

net::Stream& ClientSession::Owner::parked_stream() { return owned().conn.stream; }

void ClientSession::Owner::woken(std::unique_ptr<net::ParkingLot::Spot> self, std::error_code ec) {
  std::unique_ptr<Owner> owner(static_cast<Owner*>(self.release()));
  ClientSession& s = owner->owned();
  s.waiting_parked.store(false, std::memory_order_relaxed);
  s.parked_->readable(std::move(owner), ec);
}

void ClientSession::close(Owner& owner) { net::ParkingLot::close(owner); }

void ClientSession::unpark(std::unique_ptr<Owner> owner, Verdict verdict) {
  owner->owned().parked_.reset();
  Owner& o = *owner;
  o.finish(std::move(owner), std::move(verdict));
}

}  // namespace detail
}  // namespace pggat
