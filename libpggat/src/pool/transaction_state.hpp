// What transaction pooling keeps about a client and about a server between units of work.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pggat/parameters.hpp"
#include "pool/prepared_statements.hpp"
#include "pool/response_queue.hpp"

namespace pggat::pool {

// What follows a client from server to server.
struct TransactionClient {
  ClientStatements statements;
  Parameters wanted;  // session parameters every server it gets must have
  Parameters view;    // the ParameterStatus values the client has been told
  // Parameters whose changes follow the client (tracked_parameters and the
  // ones it gave at startup).
  std::vector<std::string> tracked;
  // A query may have changed a tracked parameter that PostgreSQL does not
  // report (search_path): read it back before the server goes.
  bool settings_dirty = false;

  // `wanted` as an immutable copy, made again only after it changed: servers
  // remember what they were synced to by holding one.
  const std::shared_ptr<const Parameters>& wanted_snapshot() {
    if (!wanted_snapshot_ || wanted_snapshot_->version() != wanted.version())
      wanted_snapshot_ = std::make_shared<const Parameters>(wanted);
    return wanted_snapshot_;
  }

 private:
  std::shared_ptr<const Parameters> wanted_snapshot_;
};

// What pggat knows about a server beyond its connection.
struct TransactionServer {
  bool initialized = false;
  Parameters defaults;  // what it reported when it was new: its own defaults
  ServerStatements statements;
  Parameters settings;  // unreported parameters set on it (see sync_parameters)
  // What it owes during a unit (empty between units), kept with the server
  // so its memory is reused from one unit to the next.
  ResponseQueue replies;
  // The last parameters it was synced to, and the versions of its reported
  // parameters and settings then: a client wanting the same finds nothing to do.
  struct Synced {
    std::shared_ptr<const Parameters> wanted;
    std::uint64_t reported_version = 0;
    std::uint64_t settings_version = 0;
    bool valid = false;
  } synced;
};

}  // namespace pggat::pool
