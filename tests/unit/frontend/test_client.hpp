// A Client for tests that only look at its startup data (matchers, handlers' inputs):
// its session holds an unopened socket, so nothing is ever read or written.
#pragma once

#include <asio/io_context.hpp>
#include <memory>
#include <string>

#include "pggat/client.hpp"
#include "pggat/parameters.hpp"

namespace pggat::test {

class TestClient {
 public:
  explicit TestClient(std::string user = "app", std::string database = "app",
                      Parameters parameters = {});
  ~TestClient();

  [[nodiscard]] Client& client();

 private:
  asio::io_context io_;
  std::unique_ptr<detail::ClientSession> session_;
};

}  // namespace pggat::test
