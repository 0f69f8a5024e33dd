// The `hybrid` pool: a primary and read-only replicas; reads go to replicas, writes to the primary.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "pggat/basic_pool.hpp"
#include "pggat/export.hpp"
#include "pggat/pool.hpp"

namespace pggat {

enum class Consistency {
  eventual,          // reads may see a replica that has not replayed the client's last write
  read_your_writes,  // a client's reads see its own committed writes
};

struct PGGAT_API HybridPoolOptions {
  // Transaction pooling only: units of work are what moves between servers.
  BasicPoolOptions base = BasicPoolOptions::transaction();
  Consistency consistency = Consistency::eventual;
  // rw mode: the client's messages of a unit of work on a replica are kept,
  // up to this many bytes, to replay it on the primary. Past it the unit
  // stays on the replica; if it then writes, the client gets an error and its
  // following units start on the primary.
  std::size_t max_replay_buffer = 256 * 1024;
  // A replica lagging more than this leaves rotation until it catches up.
  std::chrono::nanoseconds max_replication_lag = std::chrono::seconds(10);
};

// Throws std::invalid_argument naming the option when the combination is not
// supported.
[[nodiscard]] PGGAT_API std::shared_ptr<Pool> make_hybrid_pool(HybridPoolOptions options);

}  // namespace pggat
