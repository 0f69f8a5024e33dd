// Replay's pure parts: the digest, the record, the check, which errors move a unit, hybrid.mode.
#include <catch2/catch.hpp>

#include <string>

#include "pool/hybrid_route.hpp"
#include "pool/replay.hpp"

using namespace pggat;
using namespace pggat::pool;

namespace {

proto::Bytes bytes_of(const std::string& s) {
  return proto::Bytes(reinterpret_cast<const std::byte*>(s.data()), s.size());
}

StreamDigest digest_in_pieces(const std::string& text, std::size_t piece) {
  StreamDigest d;
  for (std::size_t at = 0; at < text.size(); at += piece) d.update(bytes_of(text.substr(at, piece)));
  return d;
}

PgError error(std::string severity, std::string code, std::string message) {
  PgError e = PgError::error(code, std::move(message));
  e.severity = std::move(severity);
  return e;
}

}  // namespace

TEST_CASE("StreamDigest: the same bytes in any pieces digest alike, other bytes differ", "[pool][replay]") {
  const std::string text = "a row of data, 8 bytes and then some more bytes: 0123456789abcdef";
  const StreamDigest whole = digest_in_pieces(text, text.size());
  for (std::size_t piece : {1u, 3u, 7u, 8u, 9u, 16u}) CHECK(digest_in_pieces(text, piece) == whole);
  CHECK(digest_in_pieces(text, 5).value() == whole.value());
  std::string changed = text;
  changed[40] = 'X';
  CHECK_FALSE(digest_in_pieces(changed, 5) == whole);
  CHECK_FALSE(digest_in_pieces(text + '\0', 5) == whole);  // length counts
  CHECK_FALSE(digest_in_pieces(text.substr(1), 5) == whole);
}

TEST_CASE("ReplayCheck: the primary's replies must match what the client got, byte for byte", "[pool][replay]") {
  ReplyTrace sent;
  sent.add_frame('C', bytes_of(std::string("BEGIN") + '\0'));
  sent.add_frame('Z', bytes_of("T"));
  CHECK(sent.bytes == 6 + 5 + 1 + 5);

  ReplayCheck same(sent);
  CHECK(same.matching());
  same.add_frame('C', bytes_of(std::string("BEGIN") + '\0'));
  CHECK(same.matching());
  same.add_frame('Z', bytes_of("T"));
  CHECK_FALSE(same.matching());
  CHECK_FALSE(same.diverged());

  ReplayCheck other(sent);
  other.add_frame('C', bytes_of(std::string("BEGIN") + '\0'));
  other.add_frame('Z', bytes_of("E"));  // same size, other status
  CHECK(other.diverged());

  ReplayCheck longer(sent);
  longer.add_frame('C', bytes_of(std::string("SELECT 12345678") + '\0'));  // past what was sent
  CHECK(longer.diverged());

  ReplayCheck cut(sent);
  cut.add_frame('C', bytes_of(std::string("BEGIN") + '\0'));
  cut.fail();  // the unit ended early
  CHECK(cut.diverged());

  CHECK_FALSE(ReplyTrace::traced('S'));
  CHECK_FALSE(ReplyTrace::traced('N'));
  CHECK_FALSE(ReplyTrace::traced('A'));
  CHECK(ReplyTrace::traced('D'));
}

TEST_CASE("ReplayRecord: keeps whole messages up to its limit, then nothing", "[pool][replay]") {
  ReplayRecord r;
  r.reset(20, true);
  r.keep('Q', bytes_of(std::string("select 1") + '\0'));  // 5 + 9 bytes
  CHECK(r.messages.size() == 14);
  CHECK(r.replay_bytes().empty());  // nothing consumed yet
  r.on_consumed();
  CHECK(r.replay_bytes().size() == 14);
  CHECK(static_cast<char>(r.replay_bytes()[0]) == 'Q');
  CHECK(r.replayable());
  r.keep('Q', bytes_of(std::string("select 2") + '\0'));  // 28 > 20
  CHECK(r.overflow);
  CHECK_FALSE(r.replayable());
  CHECK(r.replay_bytes().empty());

  r.reset(20, false);
  CHECK(r.replayable());
  CHECK(r.fits(20));
  CHECK_FALSE(r.fits(21));
  r.reset(20, false);
  r.untraceable = true;
  CHECK_FALSE(r.replayable());
}

TEST_CASE("replay_cause: writes move in rw only, failures and recovery conflicts always", "[pool][replay]") {
  const PgError write = error("ERROR", "25006", "cannot execute INSERT in a read-only transaction");
  CHECK(replay_cause(write, true) == ReplayCause::read_only);
  CHECK(replay_cause(write, false) == ReplayCause::none);
  const PgError wal = error("ERROR", "55000", "recovery is in progress");
  CHECK(replay_cause(wal, true) == ReplayCause::read_only);
  CHECK(replay_cause(error("ERROR", "55000", "other"), true) == ReplayCause::none);
  CHECK(replay_cause(error("FATAL", "57P01", "terminating connection due to administrator command"),
                     false) == ReplayCause::server_failed);
  CHECK(replay_cause(error("ERROR", "40001", "canceling statement due to conflict with recovery"),
                     false) == ReplayCause::server_failed);
  CHECK(replay_cause(error("ERROR", "40001", "could not serialize access"), true) ==
        ReplayCause::none);
  CHECK(replay_cause(error("ERROR", "42P01", "relation does not exist"), true) == ReplayCause::none);
}

TEST_CASE("command_writes: tags of commands that write", "[pool][replay]") {
  for (const char* tag : {"INSERT 0 1", "UPDATE 3", "DELETE 0", "MERGE 1", "COPY 5", "CREATE TABLE",
                          "DROP INDEX", "TRUNCATE TABLE", "CALL"})
    CHECK(command_writes(tag));
  for (const char* tag : {"SELECT 1", "BEGIN", "COMMIT", "ROLLBACK", "SET", "SHOW", "FETCH 10",
                          "DECLARE CURSOR", "DISCARD ALL", ""})
    CHECK_FALSE(command_writes(tag));
}

TEST_CASE("hybrid.mode is taken out of the parameters; a bad value is a FATAL 22023", "[pool][replay]") {
  Parameters none{{"application_name", "x"}};
  CHECK(take_hybrid_mode(none).value() == HybridMode::rw);
  CHECK(none.size() == 1);

  Parameters ro{{"hybrid.mode", "ro"}, {"application_name", "x"}};
  CHECK(take_hybrid_mode(ro).value() == HybridMode::ro);
  CHECK(ro.find("hybrid.mode") == nullptr);
  Parameters wo{{"Hybrid.Mode", "wo"}};
  CHECK(take_hybrid_mode(wo).value() == HybridMode::wo);

  Parameters bad{{"hybrid.mode", "fast"}};
  const auto r = take_hybrid_mode(bad);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == "22023");
  CHECK(r.error().is_fatal());
}
