// Whole-frame reads and buffered writes for the control paths (startup, auth, reset).
// A C++ header before any of Asio's. Asio 1.22 decides between aligned_alloc
// and operator new for its handler memory from _GLIBCXX_HAVE_ALIGNED_ALLOC,
// which only a C++ header defines; this unit included Asio first and so
// freed with operator delete what the other units allocated with
// aligned_alloc (an ODR violation; ASan in fuzz-startup: alloc-dealloc-mismatch).
#include <cstddef>

#include "net/connection.hpp"

#include "pggat/error.hpp"

namespace pggat::net {
namespace {

asio::awaitable<std::error_code> fill(Connection& conn) {
  asio::mutable_buffer space = conn.in.prepare();
  IoResult read;
  co_await conn.stream.receive(space, read);
  const auto [ec, n] = read;
  if (ec) co_return ec;
  if (n == 0) co_return make_error_code(errc::connection_closed);
  conn.in.commit(n);
  co_return std::error_code{};
}

asio::awaitable<ReadFrameResult> read_frame_impl(Connection& conn, const proto::FrameRules& rules,
                                                 const proto::TypeSet* whole_types) {
  ReadFrameResult r;
  for (;;) {
    const proto::HeaderResult h = proto::decode_header(conn.in.data(), rules);
    if (h.status == proto::DecodeStatus::invalid) {
      r.ec = make_error_code(errc::protocol_violation);
      r.header = h.header;
      r.frame_error = h.error;
      co_return r;
    }
    if (h.status == proto::DecodeStatus::ok) {
      r.header = h.header;
      const std::size_t total = h.header.total_size();
      if (conn.in.size() >= total) {
        r.frame.type = h.header.type;
        r.frame.body = conn.in.data().subspan(proto::FrameHeader::size, h.header.body_size());
        co_return r;
      }
      const bool fits = total <= std::max(conn.in.capacity(), RecvBuffer::default_capacity);
      if (whole_types != nullptr && !fits && !whole_types->contains(h.header.type)) {
        // Too big to keep and not needed: drop it as it streams past.
        std::size_t left = total;
        while (left > 0) {
          if (conn.in.empty()) {
            if (auto ec = co_await fill(conn)) {
              r.ec = ec;
              co_return r;
            }
          }
          const std::size_t n = std::min(left, conn.in.size());
          conn.in.consume(n);
          left -= n;
        }
        r.frame.type = h.header.type;
        r.skipped = true;
        co_return r;
      }
      conn.in.reserve_message(total);
    }
    if (auto ec = co_await fill(conn)) {
      r.ec = ec;
      co_return r;
    }
  }
}

}  // namespace

asio::awaitable<ReadFrameResult> read_frame(Connection& conn, const proto::FrameRules& rules,
                                            proto::TypeSet whole_types) {
  co_return co_await read_frame_impl(conn, rules, &whole_types);
}

asio::awaitable<ReadFrameResult> read_frame(Connection& conn, const proto::FrameRules& rules) {
  co_return co_await read_frame_impl(conn, rules, nullptr);
}

asio::awaitable<std::error_code> flush(Connection& conn) {
  if (conn.out.empty()) co_return std::error_code{};
  std::array<asio::const_buffer, 1> all{asio::buffer(conn.out)};
  std::error_code ec;
  const auto rest = conn.stream.send_at_once(all, ec);
  if (!rest.empty()) std::tie(ec, std::ignore) = co_await conn.stream.write(rest);
  conn.out.clear();
  co_return ec;
}

}  // namespace pggat::net
