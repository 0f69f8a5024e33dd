// Unit tests of pool/transaction_state: TrackedLists gives equal tracked lists one id and one copy.
#include "pool/transaction_state.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using pggat::pool::TrackedLists;

TEST_CASE("TrackedLists: equal lists share an id, different ones do not", "[pool][transaction_state]") {
  TrackedLists lists;
  const std::vector<std::string> a{"client_encoding", "search_path"};
  const std::vector<std::string> b{"client_encoding", "search_path", "extra_float_digits"};
  const auto id_a = lists.id_of(a);
  CHECK(id_a != 0);  // 0 means unknown: nothing may be cached for it
  CHECK(lists.id_of(a) == id_a);
  CHECK(lists.id_of(std::vector<std::string>(a)) == id_a);
  const auto id_b = lists.id_of(b);
  CHECK(id_b != id_a);
  CHECK(lists.id_of(b) == id_b);
}

TEST_CASE("TrackedLists: past its capacity, new lists get fresh ids, never a taken one",
          "[pool][transaction_state]") {
  TrackedLists lists;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(lists.id_of({"p" + std::to_string(i)}));
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  CHECK(lists.id_of({"p0"}) == 1);  // an early list is still known
}

TEST_CASE("TrackedLists: clients with equal lists share one copy of it", "[pool][transaction_state]") {
  TrackedLists lists;
  const std::vector<std::string> a{"client_encoding", "search_path"};
  const auto first = lists.intern(a);
  const auto second = lists.intern(a);
  REQUIRE(first.names != nullptr);
  CHECK(*first.names == a);
  CHECK(first.names == second.names);  // the same object, not an equal one
  CHECK(first.id == second.id);
  const auto other = lists.intern({"TimeZone"});
  CHECK(other.names != first.names);
  CHECK(*other.names == std::vector<std::string>{"TimeZone"});
}
