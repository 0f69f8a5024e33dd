// Conversation: what a server still owes, read from the message types both sides send.
#include "proto/conversation.hpp"

#include <catch2/catch.hpp>
#include <string_view>

using pggat::proto::Bytes;
using pggat::proto::Conversation;

namespace {

// ReadyForQuery's one-byte body.
Bytes ready_body(char status) {
  static std::byte bodies[3] = {std::byte{'I'}, std::byte{'T'}, std::byte{'E'}};
  switch (status) {
    case 'I':
      return {&bodies[0], 1};
    case 'T':
      return {&bodies[1], 1};
    default:
      return {&bodies[2], 1};
  }
}

void client_sends(Conversation& c, std::string_view types) {
  for (char t : types) c.on_client(t);
}

// Server messages other than ReadyForQuery carry no state in their body.
void server_sends(Conversation& c, std::string_view types) {
  for (char t : types) c.on_server(t, {});
}

void ready(Conversation& c, char status) {
  c.on_server('Z', ready_body(status));
}

}  // namespace

TEST_CASE("Conversation starts idle", "[proto][conversation]") {
  const Conversation c;
  CHECK(c.idle());
  CHECK(c.pending_ready() == 0);
  CHECK_FALSE(c.unsynced());
  CHECK(c.transaction_status() == 'I');
  CHECK_FALSE(c.copy_in());
  CHECK_FALSE(c.copy_out());
}

TEST_CASE("Conversation: a simple query is owed one ReadyForQuery", "[proto][conversation]") {
  Conversation c;
  c.on_client('Q');
  CHECK(c.pending_ready() == 1);
  CHECK_FALSE(c.idle());
  server_sends(c, "TDDC");  // RowDescription, DataRow x2, CommandComplete
  CHECK_FALSE(c.idle());
  ready(c, 'I');
  CHECK(c.pending_ready() == 0);
  CHECK(c.idle());

  // Two queries sent back to back owe two.
  client_sends(c, "QQ");
  CHECK(c.pending_ready() == 2);
  ready(c, 'I');
  CHECK(c.pending_ready() == 1);
  CHECK_FALSE(c.idle());
  ready(c, 'I');
  CHECK(c.idle());
}

TEST_CASE("Conversation: a FunctionCall is owed one ReadyForQuery", "[proto][conversation]") {
  Conversation c;
  c.on_client('F');
  CHECK(c.pending_ready() == 1);
  server_sends(c, "V");
  ready(c, 'I');
  CHECK(c.idle());
}

TEST_CASE("Conversation: an extended batch with Sync", "[proto][conversation]") {
  Conversation c;
  client_sends(c, "PBDE");  // Parse, Bind, Describe, Execute
  CHECK(c.unsynced());
  CHECK(c.pending_ready() == 0);
  CHECK_FALSE(c.idle());
  c.on_client('S');
  CHECK_FALSE(c.unsynced());
  CHECK(c.pending_ready() == 1);
  CHECK_FALSE(c.idle());
  server_sends(c, "12TDC");  // ParseComplete, BindComplete, RowDescription, DataRow, Complete
  ready(c, 'I');
  CHECK(c.idle());

  // Close and Flush are part of an unsynced batch too.
  c.on_client('C');
  CHECK(c.unsynced());
  c.on_client('S');
  ready(c, 'I');
  CHECK(c.idle());
  c.on_client('H');
  CHECK(c.unsynced());
  CHECK_FALSE(c.idle());
}

TEST_CASE("Conversation: an extended batch without Sync is not idle", "[proto][conversation]") {
  Conversation c;
  client_sends(c, "PBE");
  server_sends(c, "12DC");  // answered, but the server waits for Sync before ReadyForQuery
  CHECK(c.unsynced());
  CHECK(c.pending_ready() == 0);
  CHECK_FALSE(c.idle());
  // A stray ReadyForQuery does not make the count negative.
  ready(c, 'I');
  CHECK(c.pending_ready() == 0);
  CHECK_FALSE(c.idle());
}

TEST_CASE("Conversation: several Syncs owe several ReadyForQuery", "[proto][conversation]") {
  Conversation c;
  client_sends(c,
               "PBES"
               "BES");
  CHECK(c.pending_ready() == 2);
  ready(c, 'I');
  CHECK_FALSE(c.idle());
  ready(c, 'I');
  CHECK(c.idle());
}

TEST_CASE("Conversation: COPY IN ends with the client's CopyDone or CopyFail",
          "[proto][conversation]") {
  for (const char end : {'c', 'f'}) {
    INFO("client ends COPY with '" << end << "'");
    Conversation c;
    c.on_client('Q');
    server_sends(c, "G");  // CopyInResponse
    CHECK(c.copy_in());
    CHECK_FALSE(c.copy_out());
    client_sends(c, "dd");  // CopyData
    CHECK(c.copy_in());
    c.on_client(end);
    CHECK_FALSE(c.copy_in());
    CHECK_FALSE(c.idle());  // still owes the ReadyForQuery
    server_sends(c, end == 'c' ? "C" : "E");
    ready(c, 'I');
    CHECK(c.idle());
  }
}

TEST_CASE("Conversation: an error during COPY IN ends it at ReadyForQuery",
          "[proto][conversation]") {
  Conversation c;
  c.on_client('Q');
  server_sends(c, "G");
  c.on_client('d');
  server_sends(c, "E");  // e.g. a bad row: the server leaves COPY on its own
  ready(c, 'I');
  CHECK_FALSE(c.copy_in());
  CHECK(c.idle());
}

TEST_CASE("Conversation: COPY OUT ends with the server's CopyDone", "[proto][conversation]") {
  Conversation c;
  c.on_client('Q');
  server_sends(c, "H");  // CopyOutResponse
  CHECK(c.copy_out());
  CHECK_FALSE(c.copy_in());
  server_sends(c, "ddd");
  CHECK(c.copy_out());
  server_sends(c, "c");
  CHECK_FALSE(c.copy_out());
  server_sends(c, "C");
  CHECK_FALSE(c.idle());
  ready(c, 'I');
  CHECK(c.idle());
}

TEST_CASE("Conversation: CopyBoth needs both sides to finish", "[proto][conversation]") {
  Conversation c;
  c.on_client('Q');
  server_sends(c, "W");
  CHECK(c.copy_in());
  CHECK(c.copy_out());
  c.on_client('c');
  CHECK_FALSE(c.copy_in());
  CHECK(c.copy_out());
  server_sends(c, "c");
  CHECK_FALSE(c.copy_out());
}

TEST_CASE("Conversation: ReadyForQuery's status tracks transactions", "[proto][conversation]") {
  Conversation c;
  c.on_client('Q');  // BEGIN
  ready(c, 'T');
  CHECK(c.transaction_status() == 'T');
  CHECK(c.pending_ready() == 0);
  CHECK_FALSE(c.idle());  // a transaction is open: the server is not anyone's yet

  c.on_client('Q');  // a failing statement
  server_sends(c, "E");
  ready(c, 'E');
  CHECK(c.transaction_status() == 'E');
  CHECK_FALSE(c.idle());

  c.on_client('Q');  // ROLLBACK
  ready(c, 'I');
  CHECK(c.transaction_status() == 'I');
  CHECK(c.idle());

  // A malformed ReadyForQuery body leaves the status alone.
  c.on_client('Q');
  ready(c, 'T');
  c.on_client('Q');
  c.on_server('Z', {});
  CHECK(c.transaction_status() == 'T');
  CHECK(c.pending_ready() == 0);
}

TEST_CASE("Conversation ignores messages that change nothing", "[proto][conversation]") {
  Conversation c;
  client_sends(c, "dpX");  // CopyData outside COPY, a password message, unknown
  server_sends(c, "RSKNAsnt");
  CHECK(c.idle());
}

TEST_CASE("Conversation: a Sync sent behind the Execute of a COPY FROM STDIN is owed nothing",
          "[proto][conversation]") {
  // libpq's PQexecParams("COPY ... FROM STDIN"): P B D E S, then the data, CopyDone, Sync.
  Conversation c;
  client_sends(c, "PBDES");
  CHECK(c.pending_ready() == 1);
  server_sends(c, "12nG");  // ParseComplete, BindComplete, NoData, CopyInResponse
  CHECK(c.pending_ready() == 0);
  CHECK(c.copy_in());
  client_sends(c, "ddH");  // data, and a Flush PostgreSQL ignores too
  client_sends(c, "S");    // ignored during COPY
  CHECK(c.pending_ready() == 0);
  client_sends(c, "cS");
  CHECK(c.pending_ready() == 1);
  server_sends(c, "C");
  ready(c, 'I');
  CHECK(c.pending_ready() == 0);
  CHECK(c.idle());

  // Simple-protocol COPY is unchanged: one Query, one ReadyForQuery.
  client_sends(c, "Q");
  server_sends(c, "G");
  CHECK(c.pending_ready() == 1);
  client_sends(c, "dc");
  server_sends(c, "C");
  ready(c, 'I');
  CHECK(c.idle());
}

TEST_CASE("Conversation: a Query or FunctionCall skipped after an extended-protocol error is owed nothing",
          "[proto][conversation]") {
  // Parse fails; PostgreSQL then skips the Query, the FunctionCall, Bind and
  // Execute up to the Sync: one ReadyForQuery, not three.
  Conversation c;
  client_sends(c, "PQFBES");
  CHECK(c.pending_ready() == 3);  // as far as anyone can tell before the replies
  server_sends(c, "E");
  CHECK(c.pending_ready() == 1);
  ready(c, 'I');
  CHECK(c.idle());

  // Without an error the same Query is run and answered.
  client_sends(c, "PBQES");
  CHECK(c.pending_ready() == 2);
  server_sends(c, "12");
  server_sends(c, "TDC");  // the Query's rows: nothing extended completes
  ready(c, 'I');
  CHECK(c.pending_ready() == 1);
  server_sends(c, "C");  // the Execute
  ready(c, 'I');
  CHECK(c.idle());
}

TEST_CASE("Conversation: an error is matched to the message that failed", "[proto][conversation]") {
  SECTION("an error inside a Query does not skip the Syncs behind it") {
    Conversation c;
    client_sends(c, "QPBES");
    server_sends(c, "E");
    CHECK(c.pending_ready() == 2);
    ready(c, 'I');
    server_sends(c, "12C");
    ready(c, 'I');
    CHECK(c.idle());
  }
  SECTION("an error at Sync (a deferred constraint at commit) is followed by its ReadyForQuery") {
    Conversation c;
    client_sends(c, "BES");
    server_sends(c, "2C");
    server_sends(c, "E");
    CHECK(c.pending_ready() == 1);
    ready(c, 'I');
    CHECK(c.idle());
  }
  SECTION("an error in the second Sync segment leaves the first one's ReadyForQuery owed") {
    Conversation c;
    client_sends(c, "BES" "PQS" "Q");
    CHECK(c.pending_ready() == 4);
    server_sends(c, "2C");
    ready(c, 'I');
    server_sends(c, "E");  // the Parse: the Query behind it is skipped
    CHECK(c.pending_ready() == 2);
    ready(c, 'I');
    ready(c, 'I');
    CHECK(c.idle());
  }
  SECTION("a Describe of a statement completes at RowDescription or NoData") {
    Conversation c;
    client_sends(c, "DDQS");
    server_sends(c, "tT");  // ParameterDescription, RowDescription
    server_sends(c, "tn");
    server_sends(c, "E");  // inside the Query: the Sync is still owed
    ready(c, 'I');
    CHECK(c.pending_ready() == 1);
    ready(c, 'I');
    CHECK(c.idle());
  }
}

TEST_CASE("Conversation: replies to messages it was not told about move nothing",
          "[proto][conversation]") {
  // A middleware's own Parse, say: its ParseComplete must not complete the Bind.
  Conversation c;
  client_sends(c, "BES");
  server_sends(c, "1");
  server_sends(c, "E");  // the Bind fails: Execute skipped, Sync owed
  CHECK(c.pending_ready() == 1);
  ready(c, 'I');
  CHECK(c.idle());
}

TEST_CASE("Conversation: reset starts over", "[proto][conversation]") {
  Conversation c;
  client_sends(c, "QPB");
  server_sends(c, "G");
  c.reset();
  CHECK(c.idle());
  CHECK(c.pending_ready() == 0);
  CHECK_FALSE(c.copy_in());
  client_sends(c, "Q");
  ready(c, 'T');
  CHECK(c.transaction_status() == 'T');
}

TEST_CASE("Conversation: awaiting_server tells who is due, the server or the client",
          "[proto][conversation]") {
  Conversation c;
  CHECK_FALSE(c.awaiting_server());
  c.on_client('Q');
  CHECK(c.awaiting_server());  // a query runs
  ready(c, 'T');
  CHECK_FALSE(c.awaiting_server());  // idle in a transaction: the client is due

  // An extended batch without Sync or Flush gets no reply yet: the client is due.
  client_sends(c, "PB");
  CHECK_FALSE(c.awaiting_server());
  c.on_client('H');
  CHECK(c.awaiting_server());  // flushed: replies come
  server_sends(c, "12");
  CHECK_FALSE(c.awaiting_server());
  client_sends(c, "E");
  CHECK_FALSE(c.awaiting_server());
  c.on_client('S');
  CHECK(c.awaiting_server());
  server_sends(c, "C");
  ready(c, 'T');
  CHECK_FALSE(c.awaiting_server());

  // COPY FROM STDIN waits for the client's data; COPY TO STDOUT for the server's.
  c.on_client('Q');
  server_sends(c, "G");
  CHECK_FALSE(c.awaiting_server());
  c.on_client('c');
  CHECK(c.awaiting_server());
  server_sends(c, "C");
  ready(c, 'I');
  c.on_client('Q');
  server_sends(c, "H");
  CHECK(c.awaiting_server());
}
