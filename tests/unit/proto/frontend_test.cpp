// Client messages: round trips, documented layouts, strict rejection of bad bodies.
#include "pggat/proto/frontend.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <ranges>

#include "codec_test_support.hpp"

using namespace pggat::proto;
using namespace pggat::proto::fe;
using namespace pggat::proto::test;
using namespace std::literals;

namespace {
constexpr Direction client = Direction::frontend;

using Strings = std::vector<std::optional<std::string>>;
}  // namespace

static_assert(std::ranges::forward_range<FormatList>);
static_assert(std::ranges::forward_range<ValueList>);
static_assert(std::forward_iterator<OidList::iterator>);

TEST_CASE("Bind round-trips formats, values and NULLs", "[proto][frontend]") {
  const std::int16_t param_formats[] = {0, 1};
  const std::optional<Bytes> params[] = {as_bytes("42"), std::nullopt, Bytes{}};
  const std::int16_t result_formats[] = {1};
  Buffer b;
  Bind::encode(b, "portal", "stmt", param_formats, params, result_formats);

  const Bind m = round_trip<Bind>(b, client);
  CHECK(m.portal == "portal");
  CHECK(m.statement == "stmt");
  CHECK(vector_of(m.param_formats) == std::vector<std::int16_t>{0, 1});
  CHECK(m.params.size() == 3);
  // An empty value and NULL are different things on the wire.
  CHECK(strings_of(m.params) == Strings{"42", std::nullopt, ""});
  CHECK(vector_of(m.result_formats) == std::vector<std::int16_t>{1});
}

TEST_CASE("Bind with no lists is the documented minimal layout", "[proto][frontend]") {
  Buffer b;
  Bind::encode(b, "", "", {}, {}, {});
  CHECK(b == bytes_of({'B', 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0}));
  const Bind m = round_trip<Bind>(b, client);
  CHECK(m.params.empty());
  CHECK(m.param_formats.begin() == m.param_formats.end());
}

TEST_CASE("Bind rejects bad value lengths and counts", "[proto][frontend]") {
  // portal, statement, 0 formats, 1 param, <length>, <value>, 0 result formats
  const auto with_param = [](Buffer length_and_value) {
    return concat(concat(bytes_of("\0\0\0\0\0\1"sv), length_and_value), bytes_of({0, 0}));
  };
  CHECK(decodes<Bind>(with_param(bytes_of({0, 0, 0, 2, 'h', 'i'}))));
  CHECK(decodes<Bind>(with_param(bytes_of({0xff, 0xff, 0xff, 0xff}))));        // -1: NULL
  CHECK_FALSE(decodes<Bind>(with_param(bytes_of({0xff, 0xff, 0xff, 0xfe}))));  // -2
  CHECK_FALSE(decodes<Bind>(with_param(bytes_of({0x80, 0, 0, 0}))));           // INT32_MIN
  CHECK_FALSE(decodes<Bind>(with_param(bytes_of({0, 0, 0, 3, 'h', 'i'}))));    // past the end
  CHECK_FALSE(decodes<Bind>(with_param(bytes_of({0x7f, 0xff, 0xff, 0xff}))));  // far past
  // A parameter count (0xffff) the body cannot hold.
  CHECK_FALSE(decodes<Bind>(bytes_of("\0\0\0\0\xff\xff\0\0\0\0\0\0"sv)));
  // A format count (0x8000) read as 32768, not as a negative number, is still too big.
  CHECK_FALSE(decodes<Bind>(bytes_of("\0\0\x80\0\0\0\0\0"sv)));
  // Missing NUL after the statement name.
  CHECK_FALSE(decodes<Bind>(bytes_of("\0stmt"sv)));
}

TEST_CASE("Bind counts are unsigned 16-bit, as in PostgreSQL", "[proto][frontend]") {
  // libpq allows up to 65535 parameters; a signed reading would refuse 40000.
  const std::vector<std::optional<Bytes>> params(40000, std::optional<Bytes>(as_bytes("x")));
  Buffer b;
  Bind::encode(b, "", "", {}, params, {});
  const std::optional<Bind> m = Bind::decode(body_of<Bind>(b, client));
  REQUIRE(m.has_value());
  CHECK(m->params.size() == 40000);
  CHECK(std::ranges::all_of(
      m->params, [](const std::optional<Bytes>& v) { return v && string_of(*v) == "x"; }));
  Buffer again;
  m->encode(again);
  CHECK(again == b);
}

TEST_CASE("Close and Describe take only S or P targets", "[proto][frontend]") {
  Buffer b;
  Close{Target::portal, "p1"}.encode(b);
  CHECK(b == concat(bytes_of({'C', 0, 0, 0, 8}), bytes_of("Pp1\0"sv)));
  const Close c = round_trip<Close>(b, client);
  CHECK(c.target == Target::portal);
  CHECK(c.name == "p1");

  Buffer d;
  Describe{Target::statement, ""}.encode(d);
  const Describe m = round_trip<Describe>(d, client);
  CHECK(m.target == Target::statement);
  CHECK(m.name.empty());

  CHECK(decodes<Close>("S\0"sv));
  CHECK_FALSE(decodes<Close>("s\0"sv));
  CHECK_FALSE(decodes<Describe>("X\0"sv));
  CHECK_FALSE(decodes<Describe>("\0\0"sv));
}

TEST_CASE("CopyData carries any bytes, including none", "[proto][frontend]") {
  Buffer b;
  const Buffer payload = bytes_of("1\t2\n\0\xff"sv);
  CopyData{payload}.encode(b);
  const CopyData m = round_trip<CopyData>(b, client, Shape::open_ended);
  CHECK(std::ranges::equal(m.data, payload));

  Buffer empty;
  CopyData{}.encode(empty);
  CHECK(empty == bytes_of({'d', 0, 0, 0, 4}));
  CHECK(round_trip<CopyData>(empty, client, Shape::open_ended).data.empty());
}

TEST_CASE("body-less client messages have the documented layout", "[proto][frontend]") {
  Buffer b;
  CopyDone{}.encode(b);
  CHECK(b == bytes_of({'c', 0, 0, 0, 4}));
  round_trip<CopyDone>(b, client);

  b.clear();
  Flush{}.encode(b);
  CHECK(b == bytes_of({'H', 0, 0, 0, 4}));
  round_trip<Flush>(b, client);

  b.clear();
  Sync{}.encode(b);
  CHECK(b == bytes_of({'S', 0, 0, 0, 4}));
  round_trip<Sync>(b, client);

  b.clear();
  Terminate{}.encode(b);
  CHECK(b == bytes_of({'X', 0, 0, 0, 4}));
  round_trip<Terminate>(b, client);
}

TEST_CASE("CopyFail round-trips its message", "[proto][frontend]") {
  Buffer b;
  CopyFail{"client gave up"}.encode(b);
  CHECK(round_trip<CopyFail>(b, client).message == "client gave up");
}

TEST_CASE("Execute round-trips portal and row limit", "[proto][frontend]") {
  Buffer b;
  Execute{"p", 100}.encode(b);
  CHECK(b == concat(bytes_of({'E', 0, 0, 0, 10, 'p', 0}), bytes_of({0, 0, 0, 100})));
  const Execute m = round_trip<Execute>(b, client);
  CHECK(m.portal == "p");
  CHECK(m.max_rows == 100);

  b.clear();
  Execute{"", -1}.encode(b);
  CHECK(round_trip<Execute>(b, client).max_rows == -1);
}

TEST_CASE("FunctionCall round-trips its arguments", "[proto][frontend]") {
  const std::int16_t formats[] = {1};
  const std::optional<Bytes> args[] = {std::nullopt, as_bytes("abc")};
  Buffer b;
  FunctionCall::encode(b, 1598, formats, args, 1);
  const FunctionCall m = round_trip<FunctionCall>(b, client);
  CHECK(m.function_oid == 1598);
  CHECK(vector_of(m.arg_formats) == std::vector<std::int16_t>{1});
  CHECK(strings_of(m.args) == Strings{std::nullopt, "abc"});
  CHECK(m.result_format == 1);

  // oid, no formats, one argument of length -2, result format
  CHECK_FALSE(
      decodes<FunctionCall>(bytes_of({0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0, 0})));
}

TEST_CASE("Parse round-trips statement, query and parameter types", "[proto][frontend]") {
  const std::uint32_t types[] = {23, 0, 25};
  Buffer b;
  Parse::encode(b, "s1", "select $1, $2, $3", types);
  const Parse m = round_trip<Parse>(b, client);
  CHECK(m.name == "s1");
  CHECK(m.query == "select $1, $2, $3");
  CHECK(vector_of(m.param_types) == std::vector<std::uint32_t>{23, 0, 25});

  // One declared type but only two bytes of it.
  CHECK_FALSE(decodes<Parse>("\0q\0\0\1\0\0"sv));
}

TEST_CASE("the p messages decode by the exchange in progress", "[proto][frontend]") {
  Buffer b;
  PasswordMessage{"secret"}.encode(b);
  CHECK(b == concat(bytes_of({'p', 0, 0, 0, 11}), bytes_of("secret\0"sv)));
  CHECK(round_trip<PasswordMessage>(b, client).password == "secret");

  b.clear();
  const Buffer token = bytes_of("\x60\x82\0\x01"sv);
  GSSResponse{token}.encode(b);
  CHECK(std::ranges::equal(round_trip<GSSResponse>(b, client, Shape::open_ended).data, token));

  b.clear();
  SASLResponse{as_bytes("c=biws,r=abc,p=xyz")}.encode(b);
  CHECK(string_of(round_trip<SASLResponse>(b, client, Shape::open_ended).data) ==
        "c=biws,r=abc,p=xyz");
}

TEST_CASE("SASLInitialResponse tells absent from empty data", "[proto][frontend]") {
  Buffer b;
  SASLInitialResponse{"SCRAM-SHA-256", as_bytes("n,,n=,r=nonce")}.encode(b);
  SASLInitialResponse m = round_trip<SASLInitialResponse>(b, client);
  CHECK(m.mechanism == "SCRAM-SHA-256");
  REQUIRE(m.initial_response.has_value());
  CHECK(string_of(*m.initial_response) == "n,,n=,r=nonce");

  Buffer absent;
  SASLInitialResponse{"SCRAM-SHA-256", std::nullopt}.encode(absent);
  CHECK(absent == concat(concat(bytes_of({'p', 0, 0, 0, 22}), bytes_of("SCRAM-SHA-256\0"sv)),
                         bytes_of({0xff, 0xff, 0xff, 0xff})));
  CHECK_FALSE(round_trip<SASLInitialResponse>(absent, client).initial_response.has_value());

  Buffer empty;
  SASLInitialResponse{"X", Bytes{}}.encode(empty);
  m = round_trip<SASLInitialResponse>(empty, client);
  REQUIRE(m.initial_response.has_value());
  CHECK(m.initial_response->empty());

  CHECK_FALSE(decodes<SASLInitialResponse>("X\0\xff\xff\xff\xfe"sv));  // length -2
  CHECK_FALSE(decodes<SASLInitialResponse>("X\0\0\0\0\x09short"sv));   // length past the end
}

TEST_CASE("Query has the documented layout and no NUL inside", "[proto][frontend]") {
  Buffer b;
  Query{"select 1"}.encode(b);
  CHECK(b == concat(bytes_of({'Q', 0, 0, 0, 13}), bytes_of("select 1\0"sv)));
  CHECK(round_trip<Query>(b, client).sql == "select 1");

  // A NUL in the input would end the string early on the wire: it is cut there.
  Buffer cut;
  Query{"select 1\0; drop table t"sv}.encode(cut);
  CHECK(cut == b);

  CHECK_FALSE(decodes<Query>(""sv));
  CHECK_FALSE(decodes<Query>("select 1"sv));
  CHECK_FALSE(decodes<Query>("a\0b\0"sv));
}
