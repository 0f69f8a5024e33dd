// BodyReader: overruns latch !ok() and never touch memory outside the body.
#include "pggat/proto/reader.hpp"

#include <catch2/catch.hpp>

using namespace pggat::proto;

TEST_CASE("a string from an empty body fails without reading", "[proto][reader]") {
  BodyReader r(Bytes{});  // data() is null: memchr must not be called on it
  CHECK(r.cstring().empty());
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.done());
}

TEST_CASE("a string needs its terminator inside the body", "[proto][reader]") {
  const std::byte body[] = {std::byte{'a'}, std::byte{0}, std::byte{'b'}};
  BodyReader r(body);
  CHECK(r.cstring() == "a");
  CHECK(r.ok());
  CHECK(r.cstring().empty());
  CHECK_FALSE(r.ok());
  CHECK(r.empty());
}
