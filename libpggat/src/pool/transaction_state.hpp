// What transaction pooling keeps about a client and about a server between units of work.
#pragma once

#include <string>
#include <vector>

#include "pggat/parameters.hpp"
#include "pool/prepared_statements.hpp"

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
};

// What pggat knows about a server beyond its connection.
struct TransactionServer {
  bool initialized = false;
  Parameters defaults;  // what it reported when it was new: its own defaults
  ServerStatements statements;
  Parameters settings;  // unreported parameters set on it (see sync_parameters)
};

}  // namespace pggat::pool
