// ParkingPool: a pool that can keep an idle client without a coroutine frame.
#pragma once

#include <asio/awaitable.hpp>

#include "pggat/client.hpp"
#include "pggat/handler.hpp"

namespace pggat::pool {

class ParkingPool {
 public:
  // Pool::serve, except that the pool may park the client
  // (ClientSession::park) and return at once; only for callers that return
  // straight away when the session is parked, up to its owner.
  virtual asio::awaitable<Verdict> serve_parkable(Client& client) = 0;

 protected:
  ~ParkingPool() = default;
};

}  // namespace pggat::pool
