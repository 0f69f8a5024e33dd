// Prepared-statement bookkeeping of transaction pooling: interning, LRU, renaming, prepare-only batches.
#include "pool/prepared_statements.hpp"

#include <catch2/catch.hpp>

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frame.hpp"
#include "pggat/proto/frontend.hpp"
#include "pool/response_queue.hpp"
#include "pool/transaction_relay.hpp"

using namespace pggat;
using namespace pggat::pool;

namespace {

proto::Buffer parse_message(std::string_view name, std::string_view query,
                            std::vector<std::uint32_t> types = {}) {
  proto::Buffer out;
  proto::fe::Parse::encode(out, name, query, types);
  return out;
}

proto::Bytes body_of(const proto::Buffer& message) {
  return proto::Bytes(message).subspan(proto::FrameHeader::size);
}

proto::Bytes tail_of(const proto::Buffer& parse) {
  const proto::Bytes body = body_of(parse);
  return body.subspan(parse_statement_name(body)->name.size() + 1);
}

}  // namespace

TEST_CASE("StatementRegistry interns equal statements and tells different ones apart",
          "[pool][statements]") {
  StatementRegistry registry;
  const auto a = parse_message("s1", "select $1::int", {23});
  const auto b = parse_message("other_name", "select $1::int", {23});
  const auto c = parse_message("s1", "select $1::int", {20});
  StatementRef ra = registry.intern(tail_of(a));
  StatementRef rb = registry.intern(tail_of(b));
  StatementRef rc = registry.intern(tail_of(c));
  CHECK(ra == rb);  // the client's name does not matter, the text and types do
  CHECK(ra != rc);
  CHECK(ra->server_name != rc->server_name);
  CHECK(ra->server_name.rfind("pggat_", 0) == 0);
  CHECK(registry.size() == 2);
  ra.reset();
  rb.reset();
  CHECK(registry.size() == 1);  // unused definitions expire
}

TEST_CASE("ServerStatements evicts the least recently used beyond its capacity",
          "[pool][statements]") {
  StatementRegistry registry;
  auto def = [&](std::string_view q) { return registry.intern(tail_of(parse_message("", q))); };
  const StatementRef one = def("select 1"), two = def("select 2"), three = def("select 3");
  ServerStatements server(2);
  CHECK_FALSE(server.insert(one));
  CHECK_FALSE(server.insert(two));
  CHECK(server.touch(one.get()));  // now two is the least recently used
  const auto evicted = server.insert(three);
  REQUIRE(evicted);
  CHECK(*evicted == two);
  CHECK(server.touch(one.get()));
  CHECK_FALSE(server.touch(two.get()));
  CHECK(server.size() == 2);
  server.erase(one.get());
  CHECK_FALSE(server.touch(one.get()));
  server.clear();
  CHECK(server.size() == 0);

  ServerStatements unbounded(0);
  for (int i = 0; i < 500; ++i) CHECK_FALSE(unbounded.insert(def("select " + std::to_string(i))));
  CHECK(unbounded.size() == 500);
}

TEST_CASE("ClientStatements: a failed Parse does not undo a later one", "[pool][statements]") {
  ClientStatements client;
  auto first = std::make_shared<const ClientStatement>(ClientStatement{"s", nullptr});
  auto second = std::make_shared<const ClientStatement>(ClientStatement{"s", nullptr});
  client.add(first);
  client.add(second);
  client.erase_if_same(first);
  CHECK(client.find("s") == second);
  client.erase_if_same(second);
  CHECK(client.find("s") == nullptr);
}

TEST_CASE("ClientStatements: empty until the first statement, copies independent", "[pool][statements]") {
  ClientStatements client;
  CHECK(client.size() == 0);
  CHECK(client.find("s") == nullptr);
  client.erase("s");  // nothing to erase: no map is made for it
  auto s = std::make_shared<const ClientStatement>(ClientStatement{"s", nullptr});
  client.erase_if_same(s);
  CHECK(client.size() == 0);
  client.add(s);
  // The hybrid pool's restore point is a copy: changes to one leave the other.
  ClientStatements copy = client;
  client.erase("s");
  CHECK(client.find("s") == nullptr);
  CHECK(copy.find("s") == s);
  client = copy;
  copy.clear();
  CHECK(client.find("s") == s);
  CHECK(copy.size() == 0);
  ClientStatements empty_copy = ClientStatements{};
  CHECK(empty_copy.find("s") == nullptr);
}

TEST_CASE("renamed messages keep every other field", "[pool][statements]") {
  const auto parse = parse_message("client_name", "select $1::int + $2::int", {23, 23});
  proto::Buffer renamed;
  append_renamed_parse(renamed, "pggat_abc", tail_of(parse));
  const auto frame = proto::decode_frame(renamed, proto::FrameRules{proto::Direction::frontend,
                                                                   proto::TypeSet::all_of(proto::frontend_messages),
                                                                   proto::default_max_message_length});
  REQUIRE(frame.status == proto::DecodeStatus::ok);
  const auto p = proto::fe::Parse::decode(frame.frame.body);
  REQUIRE(p);
  CHECK(p->name == "pggat_abc");
  CHECK(p->query == "select $1::int + $2::int");
  CHECK(p->param_types.size() == 2);

  proto::Buffer bind;
  const std::optional<proto::Bytes> params[] = {proto::as_bytes("7"), std::nullopt};
  const std::int16_t formats[] = {0};
  proto::fe::Bind::encode(bind, "portal", "client_name", formats, params, formats);
  const auto named = bind_statement_name(body_of(bind));
  REQUIRE(named);
  CHECK(named->name == "client_name");
  proto::Buffer rebound;
  append_renamed_bind(rebound, body_of(bind), named->name_offset, named->name.size(), "pggat_x");
  const auto b = proto::fe::Bind::decode(body_of(rebound));
  REQUIRE(b);
  CHECK(b->portal == "portal");
  CHECK(b->statement == "pggat_x");
  CHECK(b->params.size() == 2);

  proto::Buffer describe;
  append_describe_statement(describe, "pggat_x");
  const auto d = proto::fe::Describe::decode(body_of(describe));
  REQUIRE(d);
  CHECK(d->target == proto::fe::Target::statement);
  CHECK(d->name == "pggat_x");
  CHECK(targeted_name(body_of(describe))->name == "pggat_x");

  CHECK_FALSE(parse_statement_name(proto::as_bytes("unterminated")));
  CHECK_FALSE(targeted_name({}));
}

TEST_CASE("ResponseQueue keeps order across growth and counts owed ReadyForQuery",
          "[pool][statements]") {
  ResponseQueue q;
  for (int i = 0; i < 100; ++i) {
    q.push({.kind = PendingReply::Kind::parse, .swallow = i % 2 == 0});
    q.push({.kind = PendingReply::Kind::sync});
  }
  CHECK(q.size() == 200);
  CHECK(q.owed_ready() == 100);
  for (int i = 0; i < 100; ++i) {
    const PendingReply p = q.pop();
    CHECK(p.kind == PendingReply::Kind::parse);
    CHECK(p.swallow == (i % 2 == 0));
    CHECK(q.pop().ends_with_ready());
  }
  CHECK(q.empty());
}

TEST_CASE("prepare_only_batch answers Parse-then-Sync of new names and nothing else",
          "[pool][statements]") {
  StatementRegistry registry;
  TransactionClient client;
  proto::Buffer in = parse_message("a", "select 1");
  proto::append(in, parse_message("b", "select 2"));
  proto::fe::Sync{}.encode(in);
  const std::size_t batch = in.size();
  proto::fe::Query{"select 3"}.encode(in);  // the next unit, left alone

  proto::Buffer reply;
  CHECK(prepare_only_batch(in, 1 << 20, client, registry, reply) == batch);
  proto::Buffer want;
  proto::be::ParseComplete{}.encode(want);
  proto::be::ParseComplete{}.encode(want);
  proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(want);
  CHECK(reply == want);
  REQUIRE(client.statements.find("a"));
  CHECK(client.statements.find("b"));

  proto::Buffer none;
  // A known name, an unnamed statement, a Bind, or no Sync yet: not such a batch.
  proto::Buffer known = parse_message("a", "select 1");
  proto::fe::Sync{}.encode(known);
  CHECK(prepare_only_batch(known, 1 << 20, client, registry, none) == 0);
  proto::Buffer unnamed = parse_message("", "select 1");
  proto::fe::Sync{}.encode(unnamed);
  CHECK(prepare_only_batch(unnamed, 1 << 20, client, registry, none) == 0);
  proto::Buffer unsynced = parse_message("c", "select 1");
  CHECK(prepare_only_batch(unsynced, 1 << 20, client, registry, none) == 0);
  proto::Buffer bare_sync;
  proto::fe::Sync{}.encode(bare_sync);
  CHECK(prepare_only_batch(bare_sync, 1 << 20, client, registry, none) == 0);
  CHECK(none.empty());
  CHECK_FALSE(client.statements.find("c"));
}

TEST_CASE("sql_deallocate_name reads DEALLOCATE [PREPARE] name and nothing else",
          "[pool][statements]") {
  CHECK(sql_deallocate_name("DEALLOCATE s1") == "s1");
  CHECK(sql_deallocate_name("  deallocate prepare S1 ;  ") == "s1");
  CHECK(sql_deallocate_name("deallocate \"Mixed\"\"Case\"") == "Mixed\"Case");
  CHECK(sql_deallocate_name("deallocate prepare") == "prepare");  // a statement named prepare
  CHECK_FALSE(sql_deallocate_name("deallocate all"));
  CHECK_FALSE(sql_deallocate_name("DEALLOCATE PREPARE ALL"));
  CHECK_FALSE(sql_deallocate_name("deallocate s1; select 1"));
  CHECK_FALSE(sql_deallocate_name("deallocates1"));
  CHECK_FALSE(sql_deallocate_name("select 1"));
  CHECK_FALSE(sql_deallocate_name("deallocate \"unterminated"));
  CHECK_FALSE(sql_deallocate_name("deallocate"));
}
