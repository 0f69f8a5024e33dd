// Transaction relay: one unit of work of a client on a server it holds until idle.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "backend/server_connection.hpp"
#include "frontend/client_session.hpp"
#include "pggat/middleware.hpp"
#include "pggat/parameters.hpp"
#include "pggat/pg_error.hpp"
#include "pool/pool_meter.hpp"
#include "pool/prepared_statements.hpp"
#include "pool/replay.hpp"
#include "pool/transaction_state.hpp"

namespace pggat::pool {

struct UnitOptions {
  StatementRegistry* registry = nullptr;  // null: statements pass through untouched
  bool dynamic_parameters = true;         // server reports update the client's parameters
  // A statement whose result type changed under it (0A000 at Bind) is
  // prepared again and its Sync segment re-sent once, invisibly, when that
  // segment was the only work in flight outside a transaction.
  bool retry_changed_statements = true;
  // While the server waits on the client: how long before the client is cut
  // (FATAL 25P03) and the server rolled back and returned. 0: no limit.
  std::chrono::nanoseconds idle_transaction_timeout{0};
  // Hybrid pool, on a replica: the client's messages and what it was sent are
  // kept here, and the relay stops (End::replay) before the client sees an
  // error that moves the unit to the primary. No retries then.
  ReplayRecord* record = nullptr;
  // Hybrid pool, on the primary: a replay of a unit whose replies up to this
  // trace the client already got; they are dropped, and must match
  // (End::replay_diverged when they do not). No retries then.
  const ReplyTrace* replay_of = nullptr;
  // Whether UnitOutcome::wrote is wanted (read-your-writes); off, command
  // tags are not looked at for it.
  bool track_writes = false;
  // Counts the client's queries and transactions; null: not counted.
  ClientMeter* meter = nullptr;
};

struct UnitOutcome {
  enum class End {
    released,  // the server is idle: the unit of work is over
    client_terminated,
    client_gone,
    client_protocol_error,
    server_gone,
    replay,           // send the unit to the primary; options.record says why
    replay_diverged,  // the primary's replies differ from the replica's the client got
  };
  End end = End::released;
  // FATAL for the client, unless it already got one. Behind a pointer: a
  // PgError is 160 bytes, and every frame a unit goes through holds an
  // outcome or two.
  std::shared_ptr<const PgError> client_error;
  std::string detail;                    // for the log
  // server_gone: the ReadyForQuery messages the client still waits for, and
  // whether the stream to the client was cut mid-message.
  std::size_t owed_ready = 0;
  bool client_torn = false;
  bool server_sent_fatal = false;
  // A write on a replica that could not be replayed (the record overflowed):
  // the client got the error.
  bool write_refused = false;
  // The server reported a command that writes (INSERT, UPDATE, CREATE, ...).
  bool wrote = false;  // with UnitOptions::track_writes only
};

// Relays between the client and `server` until the server is idle outside a
// transaction with nothing owed, or one side ends. Named statements are
// renamed to pggat's per-server names and prepared where missing. While it
// runs, the client's CancelRequests go to `server`; when it ends, the bytes
// it moved are added to options.meter.
[[nodiscard]] asio::awaitable<UnitOutcome> relay_unit(
    detail::ClientSession& client, backend::ServerConnection& server, TransactionServer& server_state,
    TransactionClient& client_state, const UnitOptions& options,
    std::span<const std::unique_ptr<Middleware>> middlewares);

// When every server is busy, a client that only prepares statements (Parse of
// new names, then Sync: what libpq's PQprepare sends) is answered by pggat at
// once, and the statements are prepared on a server when first used. Without
// this, a driver that blocks in PQprepare while its other connections hold
// servers in open transactions (pgbench -M prepared) deadlocks the pool. The
// price: an error in such a statement surfaces at its first use. Returns the
// bytes of the client's buffer it answered (0: not such a batch; nothing done).
[[nodiscard]] std::size_t prepare_only_batch(proto::Bytes buffered, std::uint32_t max_message_size,
                                             TransactionClient& client_state,
                                             StatementRegistry& registry, proto::Buffer& reply);

}  // namespace pggat::pool
