// Stream: one socket (TCP or unix), plain or TLS, with awaitable, non-throwing read and write.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/basic_stream_socket.hpp>
#include <asio/detail/reactor.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/read.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/write.hpp>
#include <asio/experimental/as_tuple.hpp>

#include "net/direct_await.hpp"
#include "net/io_executor.hpp"

namespace pggat::net {

using Socket = asio::basic_stream_socket<asio::generic::stream_protocol, IoExecutor>;

// Completion token for the data path: errors come back as values.
inline constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

class TlsServerContext;
class TlsClientContext;

using IoResult = std::tuple<std::error_code, std::size_t>;

// `buffers` without their first `n` bytes (n no more than their size); the
// elements are adjusted in place.
std::span<asio::const_buffer> drop_front(std::span<asio::const_buffer> buffers, std::size_t n);

// The single place the rest of the code reads and writes bytes. After
// start_tls_* succeeded, every read and write goes through TLS; before, and
// on plain connections, straight to the socket (one branch per call). After
// a handshake failed (or was cancelled), writes fail at once: a write through
// a half-made session would wait for the handshake to go on, and a client
// that stopped in it would hold its connection.
class Stream {
 public:
  explicit Stream(Socket socket) : socket_(std::move(socket)) {}
  // The TLS engine refers to socket_: a Stream stays where it was made.
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // co_await yields std::tuple<std::error_code, std::size_t>.
  asio::awaitable<IoResult> read_some(asio::mutable_buffer buffer) {
    if (tls_) return tls_->stream.async_read_some(buffer, use_nothrow);
    return socket_.async_read_some(buffer, use_nothrow);
  }
#if PGGAT_AWAIT_DIRECTLY
  // `co_await stream.receive(buffer, result)`: read_some's read, its outcome
  // put in `result` (in the caller's frame). The read's completion resumes
  // the caller itself, where read_some's awaitable is a coroutine of Asio's
  // with a frame made, run and freed per read: the data path's reads, two
  // per transaction, are a tenth of its instructions that way. A read that
  // starts after the caller's cancellation fired yields operation_aborted
  // at once (it would not see the signal and could wait for ever).
  class Receive;
  [[nodiscard]] Receive receive(asio::mutable_buffer buffer, IoResult& result);
  // receive() for a wait that the App's sweep ends by parking the client
  // after a second or two (a client between units): on a client stream
  // with drained reads it waits for epoll at once after a short read,
  // since parking re-arms the descriptor, which then reports an end of
  // file however it came.
  [[nodiscard]] Receive receive_until_parked(asio::mutable_buffer buffer, IoResult& result);
#else
  asio::awaitable<void> receive(asio::mutable_buffer buffer, IoResult& result) {
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
      result = IoResult{asio::error::operation_aborted, 0};
      co_return;
    }
    result = co_await read_some(buffer);
  }
  asio::awaitable<void> receive_until_parked(asio::mutable_buffer buffer, IoResult& result) {
    co_await receive(buffer, result);
  }
#endif
  // A read that comes back short (fewer bytes than there was room for)
  // counts the socket as empty, and the next read waits for epoll instead
  // of first trying recv(), which on a request-and-reply connection fails
  // nearly always (a system call per read). A short read may have taken an
  // end of file along with its bytes, which would wake nothing again, so
  // the next read tries recv() first after all unless
  //  - server: something was written since (to a closed peer, that draws a
  //    reset, which does wake the reactor; a PostgreSQL server never
  //    half-closes) or the peer waits for us (peer_waits);
  //  - client: the read is receive_until_parked (a client may half-close
  //    after its last message, and then no write of ours wakes anything).
  // Plain streams with direct awaits (Asio 1.22) only; elsewhere reads go
  // on as before.
  enum class DrainedReads : std::uint8_t { off, server, client };
  void set_drained_reads(DrainedReads mode);
  // What the peer said last, for a server's drained reads: it waits for us now (a
  // server's ReadyForQuery), so an end of file that came with the short read
  // before is left for the next write to find, and the next read waits for
  // epoll even with nothing written since; or it may be about to close (an
  // error, FATAL perhaps), so the next read tries recv() first.
  void peer_waits() { maybe_unseen_eof_ = false; }
  void peer_may_close() { maybe_unseen_eof_ = true; }
  // A client's stream with drained reads, while on (a transaction's turns):
  // a read after a short read waits for epoll at once, as
  // receive_until_parked's does, and the stream is blind() while it waits:
  // an end of file that came with the short read goes unseen until
  // end_blind_read_at_eof looks (the App's sweep, once a second).
  void set_watched_reads(bool on) {
    watched_ = on;
    if (!on) blind_.store(false, std::memory_order_relaxed);  // a blind read cancelled
  }
  // From any thread.
  [[nodiscard]] bool blind() const { return blind_.load(std::memory_order_relaxed); }
  // On the stream's thread: if a read waits blind and the peer has closed
  // (or the socket failed), cancels it (operation_aborted) and says so.
  // Bytes that came meanwhile raised an edge of their own: the read takes them.
  bool end_blind_read_at_eof();
  // Reads that tried recv() before waiting and found nothing, on streams
  // with drained reads: what they are there to save.
  [[nodiscard]] std::uint64_t empty_reads() const { return empty_reads_; }

  // Writes every byte of the sequence; yields std::tuple<std::error_code, std::size_t>.
  template <class ConstBufferSequence>
  asio::awaitable<IoResult> write(const ConstBufferSequence& buffers) {
    bytes_written_ += asio::buffer_size(buffers);
    if (writes_reveal_eof_) maybe_unseen_eof_ = false;
    if (tls_) return write_tls(buffers);
    return asio::async_write(socket_, buffers, use_nothrow);
  }
  // Sends what the socket takes right now, without waiting: one sendmsg on
  // plain streams (a full socket buffer is 0 bytes and no error; a partial
  // send is normal). TLS streams send nothing here: 0 bytes, no error. The
  // data path tries this before write(): a short message almost always goes
  // at once, and an asynchronous write costs several times the send itself.
  [[nodiscard]] IoResult send_now(std::span<const asio::const_buffer> buffers);
  // The first half of every data-path write: send_now(), then what is left of
  // `all` (adjusted in place) for write() to wait on; empty when all went or
  // on an error, which is in `ec`. A half of its own so callers on the hot
  // path write without the frame of a coroutine call.
  [[nodiscard]] std::span<asio::const_buffer> send_at_once(std::span<asio::const_buffer> all,
                                                           std::error_code& ec);

  // Reads what has arrived, without waiting: one recv on plain streams.
  // asio::error::would_block when nothing has (wait with
  // socket().async_wait(wait_read), then call again), asio::error::eof when
  // the peer closed. TLS streams answer would_block: they read with read_some.
  // `buffer` is not empty.
  [[nodiscard]] IoResult read_now(asio::mutable_buffer buffer);

  // Whether data, EOF or an error is waiting now, without consuming it or
  // blocking: one recv(MSG_PEEK). For a peer that should be silent (an idle
  // server), anything at all means it is going away.
  [[nodiscard]] bool input_pending() const;

  // Server side of TLS, right after we answered an SSLRequest with 'S'.
  // Returns the handshake's error; the text for it is in *why.
  [[nodiscard]] asio::awaitable<std::error_code> start_tls_server(
      std::shared_ptr<TlsServerContext> context, std::string* why);
  // Client side of TLS towards `host` (SNI and, when the context says so,
  // the host name check), right after the server answered 'S'.
  [[nodiscard]] asio::awaitable<std::error_code> start_tls_client(
      std::shared_ptr<TlsClientContext> context, std::string host, std::string* why);

  [[nodiscard]] bool is_tls() const { return tls_ != nullptr; }
  // The TLS session (nullptr on plain streams), for facts about it.
  [[nodiscard]] SSL* tls_handle() const { return tls_ ? tls_->stream.native_handle() : nullptr; }

  // Cancels pending operations; the stream stays usable.
  void cancel() noexcept {
    std::error_code ignored;
    socket_.cancel(ignored);
  }
  // Closes (the kernel sends FIN: no descriptor of the socket is shared, so
  // a shutdown first would only cost a system call); pending operations
  // complete with operation_aborted.
  void close() noexcept {
    std::error_code ignored;
    if (parked_fd_ >= 0) close_parked();
    if (!socket_.is_open()) return;
    in_parking_set_ = false;
    socket_.close(ignored);
  }
  // Sends FIN (after TLS close_notify), then reads and drops what the peer
  // still sends (up to a cap and a deadline) before closing. Closing with
  // unread input makes the kernel send RST, and a peer that gets RST may lose
  // our last message (a FATAL error) before reading it.
  asio::awaitable<void> close_gracefully(std::chrono::milliseconds limit);

  // Re-registers the socket with `executor`'s io_context (the thread that
  // will use it next), so its completions run there without a hop through
  // another thread. Nothing may be pending on the stream. Costs two epoll_ctl
  // calls when the executor differs, nothing when it is the same. On TLS
  // streams the engine's internal timers stay with the old context: they are
  // only used when a read and a write overlap, and work across threads.
  void move_to(const IoExecutor& executor);

  // For ParkingLot: the descriptor leaves the reactor (one epoll_ctl) and
  // is returned; the stream keeps it, counts as open and closes it, but
  // nothing may read or write until rejoin_reactor. Plain streams only.
  [[nodiscard]] int leave_reactor(std::error_code& ec);
  // Back in the reactor (one epoll_ctl) after leave_reactor; an error
  // leaves the stream closed.
  [[nodiscard]] std::error_code rejoin_reactor();
  // The socket's address family, when the caller knows it (an accepted
  // socket's is its peer's): spares leave_reactor and move_to asking the kernel.
  void set_family(int family) { family_ = static_cast<std::int16_t>(family); }
  // Whether the descriptor is in its io_context's parking set already
  // (disarmed while the stream is in the reactor).
  [[nodiscard]] bool in_parking_set() const { return in_parking_set_; }
  void set_in_parking_set() { in_parking_set_ = true; }

  // Bytes handed to the socket or TLS so far (a write that fails counts):
  // traffic figures.
  [[nodiscard]] std::uint64_t bytes_written() const { return bytes_written_; }

  [[nodiscard]] bool is_open() const { return socket_.is_open() || parked_fd_ >= 0; }
  [[nodiscard]] Socket& socket() { return socket_; }
  [[nodiscard]] auto get_executor() { return socket_.get_executor(); }

 private:
  using TlsStream = asio::ssl::stream<Socket&>;

  // Many small buffers would each become a TLS record and a send(): they are
  // copied into one (reused) buffer first, large ones are written as they are.
  template <class ConstBufferSequence>
  asio::awaitable<IoResult> write_tls(ConstBufferSequence buffers) {
    if (tls_->failed) co_return IoResult{make_error_code(asio::error::not_connected), 0};
    const std::size_t total = asio::buffer_size(buffers);
    const auto count = std::distance(asio::buffer_sequence_begin(buffers),
                                     asio::buffer_sequence_end(buffers));
    if (count <= 1 || total > coalesce_limit)
      co_return co_await asio::async_write(tls_->stream, buffers, use_nothrow);
    tls_->scratch.resize(total);
    asio::buffer_copy(asio::buffer(tls_->scratch), buffers);
    auto [ec, n] = co_await asio::async_write(tls_->stream, asio::buffer(tls_->scratch), use_nothrow);
    co_return IoResult{ec, n};
  }
  static constexpr std::size_t coalesce_limit = 64 * 1024;

  Socket socket_;
  // All of TLS behind one pointer: a plain connection pays 8 bytes for it.
  struct Tls {
    Tls(Socket& socket, std::shared_ptr<void> owner, asio::ssl::context& context)
        : context_owner(std::move(owner)), stream(socket, context) {}
    std::shared_ptr<void> context_owner;  // first: the context outlives the engine
    TlsStream stream;
    std::vector<std::byte> scratch;
    bool failed = false;  // the handshake failed: the session carries nothing
  };
  std::unique_ptr<Tls> tls_;
  void handshake_failed(const std::error_code& ec, std::string* why);
  // What one recv(MSG_PEEK) finds: bytes, nothing yet, or an end (end of
  // file, or an error).
  enum class Peeked : std::uint8_t { bytes, nothing, ended };
  [[nodiscard]] Peeked peek() const;
  void close_parked() noexcept;
  // The socket's address family, learnt at the first move_to or leave_reactor.
  [[nodiscard]] bool learn_family();

  std::uint64_t bytes_written_ = 0;
  // With drained reads (set_drained_reads): socket_'s reactor, else nullptr.
  asio::detail::reactor* drained_reactor_ = nullptr;
  std::uint64_t empty_reads_ = 0;
  int parked_fd_ = -1;  // the descriptor while out of the reactor
  std::int16_t family_ = -1;
  bool in_parking_set_ = false;
  // The last read came back short, and (on a server's stream) nothing was
  // written since.
  bool maybe_unseen_eof_ = false;
  bool writes_reveal_eof_ = false;  // DrainedReads::server
  bool watched_ = false;            // set_watched_reads
  std::atomic<bool> blind_{false};  // a watched read waits after a short read
};

#if PGGAT_AWAIT_DIRECTLY
// What `co_await stream.receive(...)` awaits: a direct await (direct_await.hpp).
class Stream::Receive {
 public:
  Receive(Stream& stream, asio::mutable_buffer buffer, IoResult& result, bool until_parked)
      : stream_(&stream), buffer_(buffer), result_(&result), until_parked_(until_parked) {}
  // Starts the read; always nullptr (the caller stays suspended until the
  // read completes, or is resumed at once when it was cancelled before).
  AwaitingThread* operator()(AwaitingFrame* frame) const;

 private:
  Stream* stream_;
  asio::mutable_buffer buffer_;
  IoResult* result_;
  bool until_parked_;
};

inline Stream::Receive Stream::receive(asio::mutable_buffer buffer, IoResult& result) {
  return Receive(*this, buffer, result, false);
}
inline Stream::Receive Stream::receive_until_parked(asio::mutable_buffer buffer, IoResult& result) {
  return Receive(*this, buffer, result, true);
}
#endif

// Writes every byte of `buffers`: what the socket takes at once goes in one
// sendmsg, and only the rest waits (Stream::write). TLS streams wait as ever.
template <class ConstBufferSequence>
asio::awaitable<IoResult> write_soon(Stream& stream, const ConstBufferSequence& buffers) {
  constexpr std::size_t max_buffers = 64;
  std::array<asio::const_buffer, max_buffers> copy;
  std::size_t count = 0;
  for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
    if (count == max_buffers) co_return co_await stream.write(buffers);  // not worth the fast path
    copy[count++] = *it;
  }
  const std::span<asio::const_buffer> all(copy.data(), count);
  const std::size_t total = asio::buffer_size(all);
  std::error_code ec;
  const auto rest = stream.send_at_once(all, ec);
  const std::size_t sent = ec ? 0 : total - asio::buffer_size(rest);
  if (rest.empty()) co_return IoResult{ec, sent};
  auto [rest_ec, n] = co_await stream.write(rest);
  co_return IoResult{rest_ec, sent + n};
}

}  // namespace pggat::net
