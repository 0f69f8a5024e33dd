// A raw-socket PostgreSQL client for tests that send what libpq never would.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pggat/pg_error.hpp"
#include "pggat/proto/bytes.hpp"

namespace pggat::test {

struct RawMessage {
  char type = 0;
  proto::Buffer body;
};

class RawClient {
 public:
  RawClient(const std::string& host, std::uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(proto::Bytes bytes);
  // Half-closes: no more bytes go out (FIN), what comes back can still be read.
  void shutdown_write();
  void send_startup(const std::string& user, const std::string& database);
  // The next message, or nullopt when the connection closed or `timeout` passed.
  std::optional<RawMessage> read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads messages until an ErrorResponse; returns it as a PgError.
  std::optional<PgError> read_error(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until ReadyForQuery; false if the connection ended first.
  bool read_until_ready(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once the peer has closed the connection (waits up to timeout).
  bool closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // A single byte reply (the answer to SSLRequest), or nullopt.
  std::optional<char> read_byte(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  bool fill(std::chrono::milliseconds timeout);
  int fd_ = -1;
  proto::Buffer in_;
  bool eof_ = false;
};

}  // namespace pggat::test
