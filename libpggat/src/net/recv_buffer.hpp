// RecvBuffer: one connection's receive buffer; messages are parsed and forwarded in place.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include <asio/buffer.hpp>

#include "pggat/proto/bytes.hpp"

namespace pggat::net {

// Bytes arrive at end, are parsed from begin, and leave by consume(). The
// storage is allocated on first use and can be dropped while empty, so an idle
// connection costs no buffer.
class RecvBuffer {
 public:
  static constexpr std::size_t default_capacity = 16 * 1024;

  explicit RecvBuffer(std::size_t capacity = default_capacity) : base_capacity_(narrow(capacity)) {}

  [[nodiscard]] proto::Bytes data() const { return {buf_.get() + begin_, end_ - begin_}; }
  [[nodiscard]] std::size_t size() const { return end_ - begin_; }
  [[nodiscard]] bool empty() const { return begin_ == end_; }
  [[nodiscard]] std::size_t capacity() const { return capacity_; }

  void consume(std::size_t n) {
    begin_ += narrow(n);
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Free space to read into, compacting first when the tail is short. Empty
  // only when the buffer is full of unparsed bytes.
  asio::mutable_buffer prepare() {
    if (!buf_) allocate(base_capacity_);
    if (capacity_ - end_ < capacity_ / 4 && begin_ > 0) compact();
    return asio::buffer(buf_.get() + end_, capacity_ - end_);
  }
  void commit(std::size_t n) {
    end_ += narrow(n);
    total_received_ += n;
  }
  // Bytes committed since the buffer was made (what was put back by prepend
  // is not counted again): traffic figures.
  [[nodiscard]] std::uint64_t total_received() const { return total_received_; }

  // Makes room toward a message of `total` bytes starting at data(): compacts,
  // and doubles the buffer only once it is full of that message. The length
  // field is the peer's claim, so memory follows the bytes that arrive, not
  // the claim: a client announcing 1 GB and sending nothing, or trickling it,
  // costs at most twice what it sent. Callers call it before each read while
  // the message is incomplete; there is room to read after it while size() < total.
  void reserve_message(std::size_t total) {
    if (!buf_) allocate(base_capacity_);
    if (begin_ + total <= capacity_) return;
    compact();
    if (total <= capacity_ || end_ < capacity_) return;
    const std::size_t cap = std::min<std::size_t>(total, std::size_t{capacity_} * 2);
    auto bigger = std::make_unique_for_overwrite<std::byte[]>(cap);
    if (!empty()) std::memcpy(bigger.get(), buf_.get() + begin_, size());
    end_ -= begin_;
    begin_ = 0;
    buf_ = std::move(bigger);
    capacity_ = narrow(cap);
  }

  // Puts bytes back in front of what is buffered, as if they had just arrived
  // (a message pggat must send again).
  void prepend(proto::Bytes bytes) {
    if (bytes.empty()) return;
    if (buf_ && begin_ >= bytes.size()) {
      begin_ -= narrow(bytes.size());
      std::memcpy(buf_.get() + begin_, bytes.data(), bytes.size());
      return;
    }
    const std::size_t total = bytes.size() + size();
    std::size_t cap = std::max(capacity_, base_capacity_);
    narrow(total);  // before the doubling, which could pass it
    while (cap < total) cap *= 2;
    auto bigger = std::make_unique_for_overwrite<std::byte[]>(cap);
    std::memcpy(bigger.get(), bytes.data(), bytes.size());
    if (!empty()) std::memcpy(bigger.get() + bytes.size(), buf_.get() + begin_, size());
    buf_ = std::move(bigger);
    capacity_ = narrow(cap);
    begin_ = 0;
    end_ = narrow(total);
  }

  // Gives the storage up when nothing is buffered (and shrinks a grown
  // buffer). One of the default size goes to this thread's spares, for the
  // next connection that becomes busy: idle connections hold no buffer, busy
  // ones do not allocate one each time.
  void release_if_empty() {
    if (!empty()) return;
    if (buf_ && capacity_ == default_capacity && spares().size() < max_spares)
      spares().push_back(std::move(buf_));
    buf_.reset();
    capacity_ = 0;
    begin_ = end_ = 0;
  }

 private:
  static constexpr std::size_t max_spares = 256;  // 4 MiB per thread at most
  static std::vector<std::unique_ptr<std::byte[]>>& spares() {
    thread_local std::vector<std::unique_ptr<std::byte[]>> list;
    return list;
  }

  // Offsets are 32-bit (every connection, idle ones too, keeps four): a
  // message is at most 1 GB (FrameRules) and the buffer twice that.
  using Offset = std::uint32_t;
  static Offset narrow(std::size_t n) {
    if (n > std::numeric_limits<Offset>::max()) throw std::length_error("RecvBuffer: over 4 GiB");
    return static_cast<Offset>(n);
  }

  void allocate(std::size_t cap) {
    if (cap == default_capacity && !spares().empty()) {
      buf_ = std::move(spares().back());
      spares().pop_back();
    } else {
      buf_ = std::make_unique_for_overwrite<std::byte[]>(cap);
    }
    capacity_ = narrow(cap);
    begin_ = end_ = 0;
  }
  void compact() {
    if (begin_ == 0) return;
    std::memmove(buf_.get(), buf_.get() + begin_, size());
    end_ -= begin_;
    begin_ = 0;
  }

  std::unique_ptr<std::byte[]> buf_;
  Offset base_capacity_;
  Offset capacity_ = 0;
  Offset begin_ = 0;
  Offset end_ = 0;
  std::uint64_t total_received_ = 0;
};

}  // namespace pggat::net
