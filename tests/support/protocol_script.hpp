// Protocol scripts: frontend messages written as text, sent raw, replies normalized for comparing.
#pragma once

// A script (tests/integration/protocol_corpus/*.pgs) has one frontend message
// or directive per line. Blank lines and lines starting with '#' are skipped.
// Strings are double-quoted with the escapes \n \t \r \\ \" and \xNN; x"0a0b"
// is a string given in hex (binary values). Lists are [a, b, ...]; NULL is a
// null value. key=value arguments may come in any order and may be left out
// (defaults in brackets).
//
//   Query "select 1"
//   Parse name="s1" query="select $1::int" types=[23]     [name="" types=[]]
//   Bind portal="" statement="s1" params=["42", NULL] formats=[0] result_formats=[0]
//                                                          [all empty]
//   Execute portal="" max_rows=0                           [portal="" max_rows=0]
//   Describe statement "s1"       Describe portal ""
//   Close statement "s1"          Close portal "p1"
//   Sync                          Flush
//   Query "..." ignored, FunctionCall ... ignored, Sync ignored
//                          a message PostgreSQL ignores, so it owes no
//                          ReadyForQuery: a Sync that arrives in COPY FROM
//                          STDIN mode (libpq sends one), a Query or
//                          FunctionCall while skipping to Sync after an
//                          error in the extended protocol
//   CopyData "1\tone\n"           CopyDone           CopyFail "reason"
//   FunctionCall oid=1397 args=["-5"] formats=[0] result_format=0
//   Await                  send what is buffered, then read replies until
//                          every ReadyForQuery owed so far (one per Query,
//                          Sync and FunctionCall) has arrived
//   Await until=G          send, then read until a message of type G (e.g.
//                          CopyInResponse, or CommandComplete after a Flush)
//
// Messages are buffered until the next Await and then sent in one write, so
// everything between two Awaits is pipelined. A script that ends with
// messages unsent or replies owed gets an implicit final Await. After the
// script the runner sends Terminate and reads until the peer closes.

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pggat/proto/bytes.hpp"
#include "support/raw_client.hpp"

namespace pggat::test {

// A script that does not parse; the message names the file and line.
struct ScriptError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ScriptStep {
  proto::Buffer send;         // messages to send, in one write
  int owed_ready = 0;         // ReadyForQuery the sent messages owe
  std::optional<char> until;  // Await until=X
  int line = 0;               // of the Await, for messages
};

struct ProtocolScript {
  std::string name;
  std::vector<ScriptStep> steps;  // each ends with an Await

  [[nodiscard]] static ProtocolScript parse(std::string name, std::string_view text);
  [[nodiscard]] static ProtocolScript load(const std::filesystem::path& file);
};

// Turns a backend message into one line of text with what may legitimately
// differ between two runs of a script taken out:
// - BackendKeyData contents and the process id of NotificationResponse;
// - process ids in message texts ("process 1234", "PID 1234");
// - the number of a temporary schema (pg_temp_3), which depends on the backend;
// - File, Line and Routine of ErrorResponse and NoticeResponse (all other
//   fields are kept, severity, SQLSTATE and message text exactly);
// - table OIDs in RowDescription, numbered in order of first appearance
//   (#1, #2, ...), since each run creates its own tables.
class ReplyNormalizer {
 public:
  [[nodiscard]] std::string operator()(const RawMessage& message);

 private:
  std::string table(std::uint32_t oid);
  std::map<std::uint32_t, int> tables_;
};

// The replies to a script, one normalized line per message, and markers for
// how it ended: "<closed>" after Terminate, or a "<...>" line saying what was
// still awaited when the peer fell silent or closed.
struct Transcript {
  std::vector<std::string> messages;
  bool complete = false;  // every Await answered and the peer closed after Terminate
};

// Runs script on a logged-in client. `ready` is the ReadyForQuery that ended
// the login; it is the transcript's first message.
[[nodiscard]] Transcript run_script(const ProtocolScript& script, RawClient& client,
                                    const RawMessage& ready);

}  // namespace pggat::test
