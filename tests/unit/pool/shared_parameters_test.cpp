// Unit tests of pool/shared_parameters: copy on write, and one copy per distinct list.
#include "pool/shared_parameters.hpp"

#include <catch2/catch.hpp>

using pggat::Parameters;
using pggat::pool::ParameterSets;
using pggat::pool::SharedParameters;

TEST_CASE("SharedParameters: a change copies, and what others hold stays as it was",
          "[pool][shared_parameters]") {
  ParameterSets sets;
  const Parameters list{{"application_name", "app"}, {"TimeZone", "UTC"}};
  SharedParameters a, b;
  a.adopt(sets.intern(list));
  b.adopt(sets.intern(list));
  CHECK(a.snapshot() == b.snapshot());  // equal lists: one copy
  const auto kept = a.snapshot();       // what a server remembers it was synced to

  a.set("TimeZone", "Europe/Paris");
  CHECK(*a.find("timezone") == "Europe/Paris");
  CHECK(*b.find("TimeZone") == "UTC");
  CHECK(*kept->find("TimeZone") == "UTC");
  CHECK(a.snapshot() != kept);

  // Setting what is there already copies nothing.
  const auto before = b.snapshot();
  b.set("TimeZone", "UTC");
  CHECK(b.snapshot() == before);

  CHECK(b.erase("TimeZone"));
  CHECK(b.find("TimeZone") == nullptr);
  CHECK(*before->find("TimeZone") == "UTC");
  CHECK_FALSE(b.erase("TimeZone"));
}

TEST_CASE("SharedParameters: a list held by no one else is changed in place", "[pool][shared_parameters]") {
  SharedParameters p;
  CHECK(p.get().empty());
  p.set("a", "1");
  const auto* first = &p.get();
  p.set("b", "2");
  CHECK(&p.get() == first);  // only p holds it: no copy
  CHECK(p.get().size() == 2);
}

TEST_CASE("ParameterSets: different lists are not shared, lists no one holds are dropped",
          "[pool][shared_parameters]") {
  ParameterSets sets;
  const auto x = sets.intern(Parameters{{"a", "1"}});
  const auto y = sets.intern(Parameters{{"a", "2"}});
  CHECK(x != y);
  CHECK(sets.intern(Parameters{{"a", "1"}}) == x);
  std::weak_ptr<const Parameters> z = sets.intern(Parameters{{"z", "1"}});
  CHECK_FALSE(z.expired());  // the set holds it
  (void)sets.intern(Parameters{{"w", "1"}});  // no client held z's list: dropped now
  CHECK(z.expired());
}

TEST_CASE("WantedMemo: the last list comes back only for the same inputs", "[pool][shared_parameters]") {
  pggat::pool::WantedMemo memo;
  const Parameters defaults{{"TimeZone", "UTC"}, {"DateStyle", "ISO, MDY"}};
  const Parameters client{{"application_name", "pgbench"}};
  CHECK(memo.find(1, defaults, client) == nullptr);  // nothing remembered yet
  ParameterSets sets;
  const auto wanted = sets.intern(Parameters{{"TimeZone", "UTC"}, {"application_name", "pgbench"}});
  memo.remember(1, defaults, client, wanted);
  CHECK(memo.find(1, defaults, client) == wanted);
  // Any input that differs makes the list anew.
  CHECK(memo.find(2, defaults, client) == nullptr);
  CHECK(memo.find(1, Parameters{{"TimeZone", "Europe/Paris"}, {"DateStyle", "ISO, MDY"}}, client) == nullptr);
  CHECK(memo.find(1, defaults, Parameters{{"application_name", "psql"}}) == nullptr);
  CHECK(memo.find(1, defaults, Parameters{}) == nullptr);
}
