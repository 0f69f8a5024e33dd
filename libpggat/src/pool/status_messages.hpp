// StatusMessages: the ParameterStatus messages of a pool's greeting, encoded once per list.
#pragma once

#include <array>
#include <memory>
#include <mutex>

#include "pggat/parameters.hpp"
#include "pggat/proto/bytes.hpp"

namespace pggat::pool {

// Most clients of a pool are told the same parameters (one interned list,
// ParameterSets), so the messages that tell them are the same bytes: they
// are kept for the last lists seen and copied into each greeting instead of
// encoded again (13 messages took 40% of the greeting's instructions).
// Keyed by the list's address: interned lists never change.
class StatusMessages {
 public:
  // Appends one ParameterStatus per parameter of *told to out, with room
  // for `more` bytes after them (one allocation for the whole greeting).
  void append(proto::Buffer& out, const std::shared_ptr<const Parameters>& told, std::size_t more);

 private:
  struct Entry {
    std::shared_ptr<const Parameters> told;  // held: its address stays its own
    proto::Buffer bytes;
  };
  std::mutex mu_;
  // Two: a hybrid pool tells read-write and read-only clients apart.
  std::array<Entry, 2> entries_;
  std::size_t next_ = 0;
};

}  // namespace pggat::pool
