// parameters_query: the SQL that gives a server its client's startup parameters.
#include "pool/parameter_sync.hpp"

#include <catch2/catch.hpp>

using pggat::Parameters;
using pggat::pool::parameters_query;

TEST_CASE("parameters_query is empty when nothing differs", "[pool][parameter_sync]") {
  CHECK(parameters_query({}, {}).empty());
  CHECK(parameters_query({{"TimeZone", "UTC"}}, {}).empty());
  CHECK(parameters_query({{"TimeZone", "UTC"}, {"DateStyle", "ISO, MDY"}}, {{"TimeZone", "UTC"}})
            .empty());
  // Names compare case-insensitively, as PostgreSQL's GUC names do.
  CHECK(parameters_query({{"TimeZone", "UTC"}}, {{"timezone", "UTC"}}).empty());
  CHECK(parameters_query({{"application_name", "x"}}, {{"APPLICATION_NAME", "x"}}).empty());
}

TEST_CASE("parameters_query sets only the parameters that differ", "[pool][parameter_sync]") {
  const Parameters server{{"TimeZone", "UTC"}, {"application_name", ""}};
  CHECK(parameters_query(server, {{"TimeZone", "UTC"}, {"application_name", "psql"}}) ==
        "SELECT pg_catalog.set_config(E'application_name', E'psql', false)");
  // Missing on the server counts as different; values compare exactly.
  CHECK(parameters_query(server, {{"timezone", "utc"}, {"search_path", "app"}}) ==
        "SELECT pg_catalog.set_config(E'timezone', E'utc', false), "
        "pg_catalog.set_config(E'search_path', E'app', false)");
}

TEST_CASE("parameters_query quotes ' and \\ inside E'' literals", "[pool][parameter_sync]") {
  CHECK(parameters_query({}, {{"application_name", "it's"}}) ==
        "SELECT pg_catalog.set_config(E'application_name', E'it''s', false)");
  CHECK(parameters_query({}, {{"search_path", "a\\b"}}) ==
        "SELECT pg_catalog.set_config(E'search_path', E'a\\\\b', false)");
  CHECK(parameters_query({}, {{"x", "\\'; DROP TABLE t; --"}}) ==
        "SELECT pg_catalog.set_config(E'x', E'\\\\''; DROP TABLE t; --', false)");
  CHECK(parameters_query({}, {{"we'ird\\name", ""}}) ==
        "SELECT pg_catalog.set_config(E'we''ird\\\\name', E'', false)");
}

TEST_CASE("sync_query sets what differs and resets what the client does not have",
          "[pool][parameter_sync]") {
  using pggat::pool::sync_query;
  const Parameters reported{{"application_name", "x"}, {"DateStyle", "ISO, MDY"}};
  // Reported values and known settings that match cost nothing.
  CHECK(sync_query(reported, {{"search_path", "a"}},
                   {{"application_name", "x"}, {"search_path", "a"}})
            .empty());
  CHECK(sync_query(reported, {{"search_path", "a"}}, {{"search_path", "b"}}) ==
        "SELECT pg_catalog.set_config(E'search_path', E'b', false)");
  // An unreported setting left by another client is reset; an unknown one is set.
  CHECK(sync_query(reported, {{"search_path", "a"}}, {{"application_name", "y"}}) ==
        "SELECT pg_catalog.set_config(E'application_name', E'y', false); RESET \"search_path\"");
  CHECK(sync_query(reported, {{"we\"ird", "1"}}, {}) == "RESET \"we\"\"ird\"");
  CHECK(sync_query(reported, {}, {{"statement_timeout", "5s"}}) ==
        "SELECT pg_catalog.set_config(E'statement_timeout', E'5s', false)");
}

TEST_CASE("read_settings_query reads every name in one row", "[pool][parameter_sync]") {
  const std::vector<std::string> names{"search_path", "it's"};
  CHECK(pggat::pool::read_settings_query(names) ==
        "SELECT pg_catalog.current_setting(E'search_path', true), "
        "pg_catalog.current_setting(E'it''s', true)");
}
