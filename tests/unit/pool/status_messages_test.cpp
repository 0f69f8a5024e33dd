// Unit tests of pool/status_messages: cached greetings are the bytes encoding would give.
#include "pool/status_messages.hpp"

#include <catch2/catch.hpp>
#include <memory>

#include "pggat/proto/backend.hpp"

using pggat::Parameters;
using pggat::proto::Buffer;

namespace {

Buffer encoded(const Parameters& list) {
  Buffer out;
  for (const auto& [name, value] : list) pggat::proto::be::ParameterStatus{name, value}.encode(out);
  return out;
}

}  // namespace

TEST_CASE("StatusMessages: each list's messages, appended after what the buffer holds", "[pool][status_messages]") {
  pggat::pool::StatusMessages messages;
  const auto primary = std::make_shared<const Parameters>(Parameters{{"server_version", "15.2"}, {"in_hot_standby", "off"}});
  const auto replica = std::make_shared<const Parameters>(Parameters{{"server_version", "15.2"}, {"in_hot_standby", "on"}});
  const auto other = std::make_shared<const Parameters>(Parameters{{"TimeZone", "UTC"}});

  Buffer out{std::byte{'R'}};
  messages.append(out, primary, 19);
  Buffer expected{std::byte{'R'}};
  const Buffer primary_bytes = encoded(*primary);
  expected.insert(expected.end(), primary_bytes.begin(), primary_bytes.end());
  CHECK(out == expected);
  CHECK(out.capacity() >= out.size() + 19);  // room for the key and ReadyForQuery

  // Two lists alternate (a hybrid pool's) and each keeps its own bytes; a
  // third replaces the older.
  for (const auto& list : {replica, primary, other, replica, other}) {
    Buffer got;
    messages.append(got, list, 0);
    CHECK(got == encoded(*list));
  }
}
