// apply_options: the StartupMessage `options` value split and applied as PostgreSQL does.
#include "frontend/startup.hpp"

#include <catch2/catch.hpp>

using Catch::Matchers::Contains;
using pggat::Parameters;
using pggat::frontend::apply_options;

namespace {

// The parameters that `options` sets, failing the test if it is refused.
Parameters applied(std::string_view options) {
  Parameters params;
  const auto problem = apply_options(options, params);
  INFO("options \"" << options << "\": " << problem.value_or("accepted"));
  REQUIRE_FALSE(problem.has_value());
  return params;
}

std::string refusal(std::string_view options) {
  Parameters params;
  const auto problem = apply_options(options, params);
  INFO("options \"" << options << "\"");
  REQUIRE(problem.has_value());
  return *problem;
}

}  // namespace

TEST_CASE("apply_options takes -c name=value in both spellings", "[frontend][options]") {
  CHECK(applied("-c search_path=a,b") == Parameters{{"search_path", "a,b"}});
  CHECK(applied("-csearch_path=x") == Parameters{{"search_path", "x"}});
  CHECK(applied("-c statement_timeout=5s") == Parameters{{"statement_timeout", "5s"}});
  // An empty value and '=' inside the value are fine.
  CHECK(applied("-c search_path=") == Parameters{{"search_path", ""}});
  CHECK(applied("-c a=b=c") == Parameters{{"a", "b=c"}});
}

TEST_CASE("apply_options takes --name=value with dashes as underscores", "[frontend][options]") {
  CHECK(applied("--search_path=x") == Parameters{{"search_path", "x"}});
  CHECK(applied("--search-path=x") == Parameters{{"search_path", "x"}});
  // Only the name changes; dashes in the value stay.
  CHECK(applied("--application-name=my-app") == Parameters{{"application_name", "my-app"}});
  CHECK(applied("-c work-mem=64MB") == Parameters{{"work_mem", "64MB"}});
}

TEST_CASE("apply_options splits on whitespace and honours backslash escapes",
          "[frontend][options]") {
  CHECK(applied("-c application_name=a\\ b") == Parameters{{"application_name", "a b"}});
  CHECK(applied("-c application_name=a\\\\b") == Parameters{{"application_name", "a\\b"}});
  CHECK(applied("-c x=\\a") == Parameters{{"x", "a"}});
  // pg_split_opts drops a backslash with nothing after it.
  CHECK(applied("-c x=a\\") == Parameters{{"x", "a"}});
  CHECK(applied("  -c\t a=1 \n") == Parameters{{"a", "1"}});
  CHECK(applied("") == Parameters{});
  CHECK(applied("   ") == Parameters{});
}

TEST_CASE("apply_options applies several options in order, later ones winning",
          "[frontend][options]") {
  const Parameters p = applied("-c a=1 --b=2 -cc=3 -c A=4");
  CHECK(p == Parameters{{"A", "4"}, {"b", "2"}, {"c", "3"}});

  // Existing parameters are kept or replaced (names compare case-insensitively).
  Parameters params{{"application_name", "psql"}, {"TimeZone", "UTC"}};
  REQUIRE_FALSE(apply_options("-c timezone=CET", params).has_value());
  CHECK(params == Parameters{{"application_name", "psql"}, {"timezone", "CET"}});
}

TEST_CASE("apply_options refuses what is not -c or --name=value", "[frontend][options]") {
  CHECK_THAT(refusal("-d 5"), Contains("unsupported option \"-d\""));
  CHECK_THAT(refusal("search_path=x"), Contains("unsupported option"));
  CHECK_THAT(refusal("-c"), Contains("\"-c\"") && Contains("needs name=value"));
  CHECK_THAT(refusal("-c a=1 -c"), Contains("needs name=value"));
  CHECK_THAT(refusal("-c =x"), Contains("invalid option \"=x\""));
  CHECK_THAT(refusal("-c x"), Contains("invalid option \"x\""));
  CHECK_THAT(refusal("--x"), Contains("expected name=value"));
  CHECK_THAT(refusal("--=x"), Contains("expected name=value"));
}
