// What transaction pooling keeps about a client and about a server between units of work.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pggat/parameters.hpp"
#include "pool/shared_parameters.hpp"
#include "pool/prepared_statements.hpp"
#include "pool/unit_buffers.hpp"
#include "pool/response_queue.hpp"

namespace pggat::pool {

// What follows a client from server to server.
struct TransactionClient {
  ClientStatements statements;
  SharedParameters wanted;  // session parameters every server it gets must have
  SharedParameters view;    // the ParameterStatus values the client has been told
  // Parameters whose changes follow the client (tracked_parameters and the
  // ones it gave at startup). One copy per distinct list (TrackedLists), not
  // one per client: most clients' lists are equal.
  std::shared_ptr<const std::vector<std::string>> tracked = no_names();
  // Names `tracked` for the servers' caches: equal lists share an id (see
  // TrackedLists); 0 means unknown, and nothing is cached for it.
  std::uint64_t tracked_id = 0;
  // A query may have changed a tracked parameter that PostgreSQL does not
  // report (search_path): read it back before the server goes.
  bool settings_dirty = false;

 private:
  static const std::shared_ptr<const std::vector<std::string>>& no_names() {
    static const auto none = std::make_shared<const std::vector<std::string>>();
    return none;
  }
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
  // The rest of what a unit works in, with the server for the same reason.
  UnitBuffers unit;
  // The last parameters it was synced to (a client's wanted.snapshot()), and
  // the versions of its reported parameters and settings then: a client
  // wanting the same finds nothing to do.
  struct Synced {
    std::shared_ptr<const Parameters> wanted;
    std::uint64_t reported_version = 0;
    std::uint64_t settings_version = 0;
    bool valid = false;
  } synced;
  // The tracked parameters (of the list with this id) it does not report,
  // as of its reported parameters' version: most clients share a list, so
  // the next one finds them worked out.
  struct Unreported {
    std::uint64_t tracked_id = 0;
    std::uint64_t reported_version = 0;
    std::vector<std::string> names;
  } unreported;
};

// Gives equal tracked lists the same id (TransactionClient::tracked_id) and
// one shared copy. Clients differ in the parameters they start with, but only
// a few lists are common; past `max_lists` new ones get fresh ids and copies
// of their own (correct, just not shared).
class TrackedLists {
 public:
  struct Interned {
    std::shared_ptr<const std::vector<std::string>> names;
    std::uint64_t id = 0;
  };
  Interned intern(std::vector<std::string> tracked) {
    std::lock_guard lock(mu_);
    for (const Interned& known : lists_)
      if (*known.names == tracked) return known;
    Interned fresh{std::make_shared<const std::vector<std::string>>(std::move(tracked)), next_++};
    if (lists_.size() < max_lists) lists_.push_back(fresh);
    return fresh;
  }
  std::uint64_t id_of(std::vector<std::string> tracked) { return intern(std::move(tracked)).id; }

 private:
  static constexpr std::size_t max_lists = 64;
  std::mutex mu_;
  std::vector<Interned> lists_;
  std::uint64_t next_ = 1;
};

}  // namespace pggat::pool
