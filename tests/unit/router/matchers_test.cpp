// The built-in matchers: glob_match and the user/database/and/or/not matchers on a Client.
#include "pggat/matchers.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "../frontend/test_client.hpp"

using pggat::glob_match;
using pggat::Matcher;
using pggat::test::TestClient;

TEST_CASE("glob_match without stars is equality", "[router][glob]") {
  CHECK(glob_match("app", "app"));
  CHECK_FALSE(glob_match("app", "apps"));
  CHECK_FALSE(glob_match("apps", "app"));
  CHECK_FALSE(glob_match("app", "App"));  // case matters, as in PostgreSQL names
  CHECK_FALSE(glob_match("app", ""));
  CHECK_FALSE(glob_match("", "app"));
  CHECK(glob_match("", ""));
  // Only '*' is special.
  CHECK(glob_match("a?b", "a?b"));
  CHECK_FALSE(glob_match("a?b", "axb"));
  CHECK(glob_match("a[b]", "a[b]"));
}

TEST_CASE("glob_match: '*' matches any run, anywhere", "[router][glob]") {
  CHECK(glob_match("*", ""));
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("**", ""));
  CHECK(glob_match("app*", "app"));
  CHECK(glob_match("app*", "app_reports"));
  CHECK_FALSE(glob_match("app*", "ap"));
  CHECK_FALSE(glob_match("app*", "my_app"));
  CHECK(glob_match("*_ro", "sales_ro"));
  CHECK(glob_match("*_ro", "_ro"));
  CHECK_FALSE(glob_match("*_ro", "sales_rw"));
  CHECK(glob_match("a*z", "az"));
  CHECK(glob_match("a*z", "abcz"));
  CHECK_FALSE(glob_match("a*z", "abcza"));
  CHECK(glob_match("*app*", "myapp1"));
  CHECK_FALSE(glob_match("*app*", "ap-p"));
}

TEST_CASE("glob_match with several stars backtracks correctly", "[router][glob]") {
  CHECK(glob_match("a*b*c", "abc"));
  CHECK(glob_match("a*b*c", "aXbYc"));
  CHECK(glob_match("a*b*c", "abbbcbc"));
  CHECK_FALSE(glob_match("a*b*c", "acb"));
  CHECK(glob_match("*a*a*", "aa"));
  CHECK_FALSE(glob_match("*a*a*", "a"));
  // The first candidate for "b" is not the right one.
  CHECK(glob_match("*ab*abc", "ab_abab_abc"));
  CHECK(glob_match("a**b", "ab"));
  CHECK(glob_match("*x", "xxx"));
  CHECK_FALSE(glob_match("*x*y", "yx"));
}

TEST_CASE("glob_match is not exponential on pathological patterns", "[router][glob]") {
  // A backtracking-by-recursion matcher takes ages here; ours is quadratic at worst.
  const std::string many_a(20000, 'a');
  CHECK_FALSE(glob_match("a*a*a*a*b", many_a));
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", many_a));
  CHECK(glob_match("a*a*a*a*a", many_a));
  CHECK(glob_match("a*a*a*a*b", many_a + "b"));
}

TEST_CASE("match_user and match_database look at the client's names", "[router][matcher]") {
  TestClient alice("alice", "sales");
  const auto user_a = pggat::match_user("a*");
  const auto user_bob = pggat::match_user("bob");
  const auto db_sales = pggat::match_database("sales");
  const auto db_alice = pggat::match_database("alice");
  CHECK(user_a->matches(alice.client()));
  CHECK_FALSE(user_bob->matches(alice.client()));
  CHECK(db_sales->matches(alice.client()));
  CHECK_FALSE(db_alice->matches(alice.client()));  // the database, not the user

  // Matchers read the client as it is now (handlers may have rewritten it).
  alice.client().user = "bob";
  CHECK(user_bob->matches(alice.client()));
  CHECK_FALSE(user_a->matches(alice.client()));
}

TEST_CASE("match_all_of, match_any_of and match_not combine matchers", "[router][matcher]") {
  TestClient client("alice", "sales");
  const auto yes = pggat::match_user("alice");
  const auto no = pggat::match_user("bob");

  CHECK(pggat::match_all_of({yes})->matches(client.client()));
  CHECK(pggat::match_all_of({yes, pggat::match_database("s*")})->matches(client.client()));
  CHECK_FALSE(pggat::match_all_of({yes, no})->matches(client.client()));
  CHECK_FALSE(pggat::match_all_of({no, yes})->matches(client.client()));

  CHECK(pggat::match_any_of({no, yes})->matches(client.client()));
  CHECK(pggat::match_any_of({yes, no})->matches(client.client()));
  CHECK_FALSE(pggat::match_any_of({no, pggat::match_database("hr")})->matches(client.client()));

  CHECK_FALSE(pggat::match_not(yes)->matches(client.client()));
  CHECK(pggat::match_not(no)->matches(client.client()));
  CHECK(pggat::match_not(pggat::match_not(yes))->matches(client.client()));

  // (user alice AND NOT database hr) OR user bob
  const auto nested = pggat::match_any_of(
      {pggat::match_all_of({yes, pggat::match_not(pggat::match_database("hr"))}), no});
  CHECK(nested->matches(client.client()));
  client.client().database = "hr";
  CHECK_FALSE(nested->matches(client.client()));
  client.client().user = "bob";
  CHECK(nested->matches(client.client()));
}

TEST_CASE("match_all_of and match_any_of short-circuit in order", "[router][matcher]") {
  struct Counting final : Matcher {
    explicit Counting(bool answer) : answer(answer) {}
    bool matches(const pggat::Client&) const override {
      ++calls;
      return answer;
    }
    bool answer;
    mutable int calls = 0;
  };
  TestClient client;
  auto t = std::make_shared<Counting>(true);
  auto f = std::make_shared<Counting>(false);
  CHECK_FALSE(pggat::match_all_of({f, t})->matches(client.client()));
  CHECK(f->calls == 1);
  CHECK(t->calls == 0);
  CHECK(pggat::match_any_of({t, f})->matches(client.client()));
  CHECK(t->calls == 1);
  CHECK(f->calls == 1);
}

TEST_CASE("combinators refuse null matchers up front", "[router]") {
  CHECK_THROWS_AS(pggat::match_not(nullptr), std::invalid_argument);
  CHECK_THROWS_AS(pggat::match_all_of({pggat::match_user("a"), nullptr}), std::invalid_argument);
  CHECK_THROWS_AS(pggat::match_any_of({nullptr}), std::invalid_argument);
}
