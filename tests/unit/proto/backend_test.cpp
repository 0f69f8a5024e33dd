// Server messages: round trips, documented layouts, strict rejection of bad bodies.
#include "pggat/proto/backend.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <ranges>

#include "codec_test_support.hpp"

using namespace pggat::proto;
using namespace pggat::proto::be;
using namespace pggat::proto::test;
using namespace std::literals;

namespace {
constexpr Direction server = Direction::backend;

using Strings = std::vector<std::optional<std::string>>;

// A body-less Authentication message: documented layout, round trip, and its
// code alone is accepted.
template <class Message>
void check_auth_request(int code) {
  Buffer b;
  Message{}.encode(b);
  CHECK(b == bytes_of({'R', 0, 0, 0, 8, 0, 0, 0, static_cast<unsigned>(code)}));
  round_trip<Message>(b, server);
  CHECK(auth_code(body_of<Message>(b, server)) == Message::code);
}

// An Authentication message with data: any data after the code is accepted,
// less than the code is not.
template <class Message>
void check_auth_data(std::string_view data) {
  Buffer b;
  Message{as_bytes(data)}.encode(b);
  const Message m = round_trip<Message>(b, server, Shape::open_ended);
  CHECK(string_of(m.data) == data);
  const Bytes body = body_of<Message>(b, server);
  for (std::size_t n = 0; n < 4; ++n) {
    const Buffer cut(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_FALSE(Message::decode(cut).has_value());
  }
  const Buffer code_only(body.begin(), body.begin() + 4);
  REQUIRE(Message::decode(code_only).has_value());
  CHECK(Message::decode(code_only)->data.empty());
}

template <class Message>
void check_empty(char type) {
  Buffer b;
  Message{}.encode(b);
  CHECK(b == bytes_of({static_cast<unsigned>(type), 0, 0, 0, 4}));
  round_trip<Message>(b, server);
}
}  // namespace

static_assert(std::ranges::forward_range<FieldList>);
static_assert(std::ranges::forward_range<ErrorFieldList>);
static_assert(std::forward_iterator<StringList::iterator>);

TEST_CASE("body-less Authentication requests carry only their code", "[proto][backend]") {
  check_auth_request<AuthenticationOk>(0);
  check_auth_request<AuthenticationKerberosV5>(2);
  check_auth_request<AuthenticationCleartextPassword>(3);
  check_auth_request<AuthenticationSCMCredential>(6);
  check_auth_request<AuthenticationGSS>(7);
  check_auth_request<AuthenticationSSPI>(9);
}

TEST_CASE("Authentication decoders accept only their own code", "[proto][backend]") {
  const Buffer cleartext = bytes_of({0, 0, 0, 3});
  CHECK(decodes<AuthenticationCleartextPassword>(cleartext));
  CHECK_FALSE(decodes<AuthenticationOk>(cleartext));
  CHECK_FALSE(decodes<AuthenticationSSPI>(cleartext));
  CHECK_FALSE(decodes<AuthenticationSASLContinue>(cleartext));
  CHECK_FALSE(decodes<AuthenticationMD5Password>(cleartext));
  CHECK_FALSE(decodes<AuthenticationSASL>(bytes_of({0, 0, 0, 11, 0})));

  CHECK(auth_code(bytes_of({0, 0, 0, 10})) == AuthCode::sasl);
  CHECK(auth_code(bytes_of({0, 0, 0, 4, 'x', 'y'})) == AuthCode{4});  // crypt: unnamed, reported
  CHECK_FALSE(auth_code(bytes_of({0, 0, 0})).has_value());
  CHECK_FALSE(auth_code(Buffer{}).has_value());
}

TEST_CASE("Authentication data messages round-trip their data", "[proto][backend]") {
  check_auth_data<AuthenticationGSSContinue>("\x60\x13\x06\x09"sv);
  check_auth_data<AuthenticationSASLContinue>("r=abc,s=c2FsdA==,i=4096");
  check_auth_data<AuthenticationSASLFinal>("v=c2lnbmF0dXJl");
  check_auth_data<AuthenticationSASLFinal>("");
}

TEST_CASE("AuthenticationMD5Password has its documented layout", "[proto][backend]") {
  Buffer b;
  AuthenticationMD5Password{{std::byte{0xde}, std::byte{0xad}, std::byte{0xbe}, std::byte{0xef}}}
      .encode(b);
  CHECK(b == bytes_of({'R', 0, 0, 0, 12, 0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef}));
  const auto m = round_trip<AuthenticationMD5Password>(b, server);
  CHECK(m.salt == std::array{std::byte{0xde}, std::byte{0xad}, std::byte{0xbe}, std::byte{0xef}});
}

TEST_CASE("AuthenticationSASL lists mechanisms up to an empty one", "[proto][backend]") {
  const std::string_view mechanisms[] = {"SCRAM-SHA-256-PLUS", "", "SCRAM-SHA-256"};
  Buffer b;
  AuthenticationSASL::encode(b, mechanisms);
  // The empty name is skipped: written, it would end the list.
  CHECK(b == concat(bytes_of({'R', 0, 0, 0, 42, 0, 0, 0, 10}),
                    bytes_of("SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"sv)));
  const auto m = round_trip<AuthenticationSASL>(b, server);
  CHECK(vector_of(m.mechanisms) ==
        std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});

  const Buffer none = bytes_of({0, 0, 0, 10, 0});
  REQUIRE(decodes<AuthenticationSASL>(none));
  CHECK(AuthenticationSASL::decode(none)->mechanisms.empty());
  CHECK_FALSE(decodes<AuthenticationSASL>(bytes_of({0, 0, 0, 10})));  // no terminator
  CHECK_FALSE(decodes<AuthenticationSASL>(concat(bytes_of({0, 0, 0, 10}), bytes_of("A\0"sv))));
}

TEST_CASE("body-less server messages have the documented layout", "[proto][backend]") {
  check_empty<BindComplete>('2');
  check_empty<CloseComplete>('3');
  check_empty<CopyDone>('c');
  check_empty<EmptyQueryResponse>('I');
  check_empty<NoData>('n');
  check_empty<ParseComplete>('1');
  check_empty<PortalSuspended>('s');
}

TEST_CASE("BackendKeyData has its documented layout", "[proto][backend]") {
  Buffer b;
  BackendKeyData{4242, -559038737}.encode(b);
  CHECK(b == bytes_of({'K', 0, 0, 0, 12, 0, 0, 0x10, 0x92, 0xde, 0xad, 0xbe, 0xef}));
  const BackendKeyData m = round_trip<BackendKeyData>(b, server);
  CHECK(m.process_id == 4242);
  CHECK(m.secret_key == -559038737);
}

TEST_CASE("CommandComplete round-trips its tag", "[proto][backend]") {
  Buffer b;
  CommandComplete{"SELECT 1"}.encode(b);
  CHECK(b == concat(bytes_of({'C', 0, 0, 0, 13}), bytes_of("SELECT 1\0"sv)));
  CHECK(round_trip<CommandComplete>(b, server).tag == "SELECT 1");
}

TEST_CASE("server CopyData carries any bytes", "[proto][backend]") {
  Buffer b;
  CopyData{as_bytes("row\n")}.encode(b);
  CHECK(string_of(round_trip<CopyData>(b, server, Shape::open_ended).data) == "row\n");
}

TEST_CASE("Copy responses round-trip their formats", "[proto][backend]") {
  const std::int16_t formats[] = {0, 1, 1};
  Buffer in;
  CopyInResponse::encode(in, 1, formats);
  CHECK(in == bytes_of({'G', 0, 0, 0, 13, 1, 0, 3, 0, 0, 0, 1, 0, 1}));
  const CopyInResponse m = round_trip<CopyInResponse>(in, server);
  CHECK(m.overall_format == 1);
  CHECK(vector_of(m.column_formats) == std::vector<std::int16_t>{0, 1, 1});

  Buffer out;
  CopyOutResponse::encode(out, 0, {});
  CHECK(round_trip<CopyOutResponse>(out, server).column_formats.empty());

  Buffer both;
  CopyBothResponse::encode(both, 0, formats);
  CHECK(round_trip<CopyBothResponse>(both, server).column_formats.size() == 3);

  CHECK_FALSE(decodes<CopyOutResponse>(bytes_of({0, 0, 2, 0, 0})));  // 2 formats, 1 byte
}

TEST_CASE("DataRow round-trips values and NULLs", "[proto][backend]") {
  const std::optional<Bytes> columns[] = {as_bytes("1"), std::nullopt, Bytes{}, as_bytes("\0\1"sv)};
  Buffer b;
  DataRow::encode(b, columns);
  const DataRow m = round_trip<DataRow>(b, server);
  CHECK(m.columns.size() == 4);
  CHECK(strings_of(m.columns) == Strings{"1", std::nullopt, "", "\0\1"s});

  Buffer empty_row;
  DataRow::encode(empty_row, {});
  CHECK(empty_row == bytes_of({'D', 0, 0, 0, 6, 0, 0}));
  CHECK(round_trip<DataRow>(empty_row, server).columns.empty());
}

TEST_CASE("DataRow rejects bad counts and lengths", "[proto][backend]") {
  CHECK(decodes<DataRow>(bytes_of({0, 1, 0xff, 0xff, 0xff, 0xff})));
  CHECK_FALSE(decodes<DataRow>(bytes_of({0, 1, 0xff, 0xff, 0xff, 0xfe})));  // length -2
  CHECK_FALSE(decodes<DataRow>(bytes_of({0, 1, 0, 0, 0, 2, 'a'})));         // past the end
  CHECK_FALSE(decodes<DataRow>(bytes_of({0, 2, 0, 0, 0, 0})));              // one of two
  CHECK_FALSE(decodes<DataRow>(bytes_of({0xff, 0xff, 0, 0, 0, 0})));        // 65535 of one
  CHECK_FALSE(decodes<DataRow>(bytes_of({0, 0, 0})));                       // trailing byte
  CHECK_FALSE(decodes<DataRow>(bytes_of({0})));                             // half a count
}

TEST_CASE("ErrorResponse is built from and converted to a PgError", "[proto][backend]") {
  const pggat::PgError error =
      pggat::PgError::fatal(pggat::sqlstate::invalid_password, "password authentication failed");
  Buffer b;
  ErrorResponse::encode(b, error);
  // Empty detail and hint are left out.
  CHECK(b == concat(bytes_of({'E', 0, 0, 0, 58}),
                    bytes_of("SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0"sv)));
  const ErrorResponse m = round_trip<ErrorResponse>(b, server);
  CHECK(m.fields.size() == 4);
  CHECK(m.find(error_field::sqlstate) == "28P01");
  CHECK_FALSE(m.find(error_field::detail).has_value());
  const pggat::PgError back = m.to_pg_error();
  CHECK(back.severity == "FATAL");
  CHECK(back.code == "28P01");
  CHECK(back.message == "password authentication failed");
  CHECK(back.detail.empty());
  CHECK(back.hint.empty());
  CHECK(back.is_fatal());

  pggat::PgError full = pggat::PgError::error("42P01", "relation \"t\" does not exist");
  full.detail = "some detail";
  full.hint = "some hint";
  Buffer f;
  ErrorResponse::encode(f, full);
  const pggat::PgError full_back = round_trip<ErrorResponse>(f, server).to_pg_error();
  CHECK(full_back.severity == "ERROR");
  CHECK(full_back.detail == "some detail");
  CHECK(full_back.hint == "some hint");
}

TEST_CASE("ErrorResponse fields keep their order; the last repeat wins", "[proto][backend]") {
  // A localized severity, and the non-localized one that PgError prefers.
  const ErrorField fields[] = {{'S', "FEHLER"}, {'V', "ERROR"},    {'C', "22012"},
                               {'M', "first"},  {'\0', "dropped"}, {'M', "division by zero"},
                               {'L', "123"}};
  Buffer b;
  ErrorResponse::encode(b, fields);
  const ErrorResponse m = round_trip<ErrorResponse>(b, server);
  CHECK(vector_of(m.fields) == std::vector<ErrorField>{{'S', "FEHLER"},
                                                       {'V', "ERROR"},
                                                       {'C', "22012"},
                                                       {'M', "first"},
                                                       {'M', "division by zero"},
                                                       {'L', "123"}});
  CHECK(m.find('M') == "division by zero");
  CHECK(m.to_pg_error().severity == "ERROR");
  CHECK(m.to_pg_error().message == "division by zero");

  CHECK(decodes<ErrorResponse>("\0"sv));  // no fields at all is well-formed
  CHECK_FALSE(decodes<ErrorResponse>(""sv));
  CHECK_FALSE(decodes<ErrorResponse>("SERROR\0"sv));  // no terminator
  CHECK_FALSE(decodes<ErrorResponse>("SERROR"sv));
  CHECK_FALSE(decodes<ErrorResponse>("S\0\0\0"sv));  // trailing byte after the terminator
}

TEST_CASE("NoticeResponse has the ErrorResponse layout under its own type", "[proto][backend]") {
  Buffer b;
  NoticeResponse::encode(b, pggat::PgError{"WARNING", "01000", "careful", "", "try less"});
  REQUIRE(b.front() == std::byte{'N'});
  const NoticeResponse m = round_trip<NoticeResponse>(b, server);
  CHECK(m.find(error_field::severity) == "WARNING");
  CHECK(m.find(error_field::hint) == "try less");
  const pggat::PgError e = m.to_pg_error();
  CHECK(e.message == "careful");
  CHECK_FALSE(e.is_fatal());
}

TEST_CASE("FunctionCallResponse tells NULL from empty", "[proto][backend]") {
  Buffer b;
  FunctionCallResponse{as_bytes("t")}.encode(b);
  auto m = round_trip<FunctionCallResponse>(b, server);
  REQUIRE(m.result.has_value());
  CHECK(string_of(*m.result) == "t");

  b.clear();
  FunctionCallResponse{std::nullopt}.encode(b);
  CHECK(b == bytes_of({'V', 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff}));
  CHECK_FALSE(round_trip<FunctionCallResponse>(b, server).result.has_value());

  CHECK_FALSE(decodes<FunctionCallResponse>(bytes_of({0xff, 0xff, 0xff, 0xfe})));
}

TEST_CASE("NegotiateProtocolVersion round-trips its options", "[proto][backend]") {
  const std::string_view options[] = {"_pq_.a", "_pq_.b"};
  Buffer b;
  NegotiateProtocolVersion::encode(b, 0, options);
  const auto m = round_trip<NegotiateProtocolVersion>(b, server);
  CHECK(m.newest_minor == 0);
  CHECK(vector_of(m.unrecognized_options) == std::vector<std::string_view>{"_pq_.a", "_pq_.b"});

  CHECK(decodes<NegotiateProtocolVersion>(bytes_of({0, 0, 0, 2, 0, 0, 0, 0})));
  CHECK_FALSE(decodes<NegotiateProtocolVersion>(bytes_of({0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff})));
  CHECK_FALSE(decodes<NegotiateProtocolVersion>(bytes_of({0, 0, 0, 2, 0x7f, 0xff, 0xff, 0xff})));
  CHECK_FALSE(decodes<NegotiateProtocolVersion>(
      concat(bytes_of({0, 0, 0, 2, 0, 0, 0, 2}), bytes_of("a\0"sv))));
}

TEST_CASE("NotificationResponse round-trips channel and payload", "[proto][backend]") {
  Buffer b;
  NotificationResponse{77, "jobs", "{\"id\": 1}"}.encode(b);
  const auto m = round_trip<NotificationResponse>(b, server);
  CHECK(m.process_id == 77);
  CHECK(m.channel == "jobs");
  CHECK(m.payload == "{\"id\": 1}");
}

TEST_CASE("ParameterDescription round-trips type OIDs", "[proto][backend]") {
  const std::uint32_t oids[] = {23, 25, 4294967295U};
  Buffer b;
  ParameterDescription::encode(b, oids);
  const auto m = round_trip<ParameterDescription>(b, server);
  CHECK(vector_of(m.type_oids) == std::vector<std::uint32_t>{23, 25, 4294967295U});
  CHECK_FALSE(decodes<ParameterDescription>(bytes_of({0, 1, 0, 0, 0})));
}

TEST_CASE("ParameterStatus round-trips name and value", "[proto][backend]") {
  Buffer b;
  ParameterStatus{"server_version", "16.2"}.encode(b);
  const auto m = round_trip<ParameterStatus>(b, server);
  CHECK(m.name == "server_version");
  CHECK(m.value == "16.2");
}

TEST_CASE("ReadyForQuery has the documented layout and a valid status", "[proto][backend]") {
  Buffer b;
  ReadyForQuery{TransactionStatus::idle}.encode(b);
  CHECK(b == bytes_of({0x5a, 0, 0, 0, 5, 0x49}));
  CHECK(round_trip<ReadyForQuery>(b, server).status == TransactionStatus::idle);
  for (const auto status : {TransactionStatus::in_transaction, TransactionStatus::failed}) {
    Buffer s;
    ReadyForQuery{status}.encode(s);
    CHECK(round_trip<ReadyForQuery>(s, server).status == status);
  }
  CHECK_FALSE(decodes<ReadyForQuery>("i"sv));
  CHECK_FALSE(decodes<ReadyForQuery>("\0"sv));
  CHECK_FALSE(decodes<ReadyForQuery>("X"sv));
}

TEST_CASE("RowDescription round-trips every attribute of its fields", "[proto][backend]") {
  const FieldDescription fields[] = {
      {"id", 16384, 1, 23, 4, -1, 0},
      {"name", 16384, 2, 1043, -1, 68, 1},
      {"?column?", 0, 0, 25, -1, -1, 0},
  };
  Buffer b;
  RowDescription::encode(b, fields);
  const auto m = round_trip<RowDescription>(b, server);
  CHECK(vector_of(m.fields) == std::vector<FieldDescription>(std::begin(fields), std::end(fields)));

  // One field announced, with its name but no attributes.
  CHECK_FALSE(decodes<RowDescription>("\0\1id\0"sv));
}
