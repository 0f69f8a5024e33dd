// Differential protocol tests: each corpus script against PostgreSQL and through pggat, replies
// compared.
//
// Every script in protocol_corpus/*.pgs is sent by a raw-socket client
// (a) straight to the test PostgreSQL and (b) through an in-process pggat, on
// a fresh connection each. The replies from the first ReadyForQuery on are
// normalized (support/protocol_script.hpp: what may legitimately differ, such
// as BackendKeyData, process ids, error File/Line/Routine) and must match
// message by message. The script format is documented at the top of
// support/protocol_script.hpp; a taste of it:
//
//   Parse name="s1" query="select $1::int" types=[23]
//   Bind statement="s1" params=["42"]
//   Execute max_rows=0
//   Sync
//   Await
//
// Run: build/tests/integration/integration-tests '[differential]'
// To see what a script gets from PostgreSQL, set PGGAT_TRANSCRIPT_DIR to a
// directory: each transcript is written there as <script>.out.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "support/pooler.hpp"
#include "support/postgres_server.hpp"
#include "support/pq.hpp"
#include "support/protocol_script.hpp"
#include "support/raw_client.hpp"
#include "support/raw_login.hpp"

#ifndef PGGAT_PROTOCOL_CORPUS
#error "PGGAT_PROTOCOL_CORPUS must name the corpus directory (set in tests/integration/meson.build)"
#endif

using namespace pggat::test;

namespace {

// The pool modes every script runs through.
const std::vector<nlohmann::json> pool_modes = {
    {{"mode", "session"}},
    {{"mode", "transaction"}, {"pooler", "lifo"}},
};

// Scripts that use session state transaction pooling does not keep, as
// docs/transaction-pooling.md says: SQL-level PREPARE and pg_prepared_statements
// (named_statement_reuse), and state left for the next client (reset_2_fresh_state).
const std::set<std::string> session_only_scripts = {"named_statement_reuse.pgs",
                                                    "reset_2_fresh_state.pgs"};

// Scripts whose server really goes away (a FATAL ends the backend).
const std::set<std::string> server_ending_scripts = {"terminate_self.pgs"};

std::vector<ProtocolScript> load_corpus() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(PGGAT_PROTOCOL_CORPUS))
    if (entry.path().extension() == ".pgs") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<ProtocolScript> scripts;
  for (const auto& f : files) scripts.push_back(ProtocolScript::load(f));
  return scripts;
}

// A script's replies and the parameters the startup reported.
struct Run {
  Transcript transcript;
  std::map<std::string, std::string> parameters;
};

Run run_on(RawClient& client, const std::vector<RawMessage>& startup,
           const ProtocolScript& script) {
  Run run;
  for (const RawMessage& m : startup)
    if (const auto p = pggat::proto::be::ParameterStatus::decode(m.body); m.type == 'S' && p)
      run.parameters[std::string(p->name)] = std::string(p->value);
  run.transcript = run_script(script, client, startup.back());
  return run;
}

Run run_direct(const ProtocolScript& script) {
  const PostgresServer& pg = PostgresServer::instance();
  RawClient client(pg.host(), pg.port());
  return run_on(client, raw_login(client, app_role.user, app_role.password, "app"), script);
}

Run run_pooled(const ProtocolScript& script, const InProcessPooler& pooler) {
  RawClient client("127.0.0.1", pooler.port());
  // pggat's clients log in by trust.
  return run_on(client, raw_login(client, "app", "", "app"), script);
}

// Startup parameters both report with different values. Which ones are
// reported, and in what order, may differ; a value must not (a pooled session
// that reports a value its server does not have would mislead the client).
std::string parameter_differences(const Run& expected, const Run& actual) {
  std::string out;
  for (const auto& [name, value] : expected.parameters) {
    const auto it = actual.parameters.find(name);
    if (it != actual.parameters.end() && it->second != value)
      out += "  " + name + ": PostgreSQL \"" + value + "\", pggat \"" + it->second + "\"\n";
  }
  return out;
}

void save_transcript(const ProtocolScript& script, const Transcript& t) {
  const char* dir = std::getenv("PGGAT_TRANSCRIPT_DIR");
  if (dir == nullptr || *dir == '\0') return;
  std::ofstream out(std::filesystem::path(dir) / (script.name + ".out"));
  for (const std::string& m : t.messages) out << m << '\n';
}

// The messages of expected, numbered, with those actual has differently
// marked '!' and followed by actual's; long runs of equal messages far from a
// difference are elided. With actual == expected: a plain listing.
std::string render_diff(const Transcript& expected, const Transcript& actual) {
  constexpr std::size_t context = 3;
  const std::size_t n = std::max(expected.messages.size(), actual.messages.size());
  const auto at = [](const Transcript& t, std::size_t i) {
    return i < t.messages.size() ? t.messages[i] : std::string("<nothing>");
  };
  std::vector<bool> differs(n);
  for (std::size_t i = 0; i < n; ++i) differs[i] = at(expected, i) != at(actual, i);
  const bool any = std::find(differs.begin(), differs.end(), true) != differs.end();
  const auto near_difference = [&](std::size_t i) {
    const std::size_t from = i > context ? i - context : 0, to = std::min(n, i + context + 1);
    return std::find(differs.begin() + from, differs.begin() + to, true) != differs.begin() + to;
  };

  std::string out =
      any ? "replies differ; PostgreSQL's, and pggat's where they differ (!):\n" : "replies:\n";
  std::size_t elided = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (any && !near_difference(i)) {
      ++elided;
      continue;
    }
    if (elided > 0) out += "     ... " + std::to_string(elided) + " equal messages\n";
    elided = 0;
    const std::string index = std::to_string(i);
    out += std::string(index.size() < 4 ? 4 - index.size() : 0, ' ') + index;
    out += (differs[i] ? " ! " : "   ") + at(expected, i) + "\n";
    if (differs[i]) out += "       pggat: " + at(actual, i) + "\n";
  }
  if (elided > 0) out += "     ... " + std::to_string(elided) + " equal messages\n";
  return out;
}

}  // namespace

TEST_CASE("corpus scripts get the same replies through pggat as from PostgreSQL",
          "[differential]") {
  const std::vector<ProtocolScript> corpus = load_corpus();
  REQUIRE(corpus.size() >= 10);

  // PostgreSQL's own replies, once; each must run the script to its end, or
  // the script (not pggat) is wrong.
  std::vector<Run> expected;
  for (const ProtocolScript& script : corpus) {
    INFO("script " << script.name);
    expected.push_back(run_direct(script));
    const Transcript& t = expected.back().transcript;
    save_transcript(script, t);
    INFO(render_diff(t, t));
    CHECK(t.complete);
  }

  for (const nlohmann::json& mode : pool_modes) {
    // One server connection: each script runs on the server the previous one
    // left, so the reset between clients is under test as well. A reset that
    // stalls gives up after 5 s, well before a client gives up waiting.
    nlohmann::json pool = {{"client_acquire_timeout", "30s"}, {"server_reset_query_timeout", "5s"}};
    pool.update(mode);
    InProcessPooler pooler(session_config(pool, {{"max_connections", 1}}));
    const auto server_pid = [&pooler] {
      return PqConnection(pooler.conninfo()).exec("select pg_backend_pid()").value();
    };
    std::string pid_before = server_pid();
    for (std::size_t i = 0; i < corpus.size(); ++i) {
      const std::string& name = corpus[i].name;
      INFO("script " << name << ", pool " << mode.dump());
      Run actual;
      try {
        actual = run_pooled(corpus[i], pooler);
      } catch (const std::exception& e) {
        FAIL_CHECK(e.what());  // a failed login; the next script gets a new client
        continue;
      }
      const bool transaction_mode = mode.value("mode", "") == "transaction";
      if (!transaction_mode || session_only_scripts.count(name) == 0) {
        const Transcript& want = expected[i].transcript;
        const bool same = actual.transcript.messages == want.messages;
        INFO((same ? std::string() : render_diff(want, actual.transcript)));
        CHECK(same);
      }
      {
        const std::string parameters = parameter_differences(expected[i], actual);
        INFO("startup parameters that differ:\n" << parameters);
        CHECK(parameters.empty());
      }

      // No script breaks its server: pggat resets it and hands the same one
      // to the next client, instead of closing it and dialing anew.
      const std::string pid_after = server_pid();
      const bool server_kept = pid_after == pid_before;
      pid_before = pid_after;
      if (server_ending_scripts.count(name) != 0) {
        CHECK_FALSE(server_kept);  // and the next client got a new one
      } else {
        CHECK(server_kept);
      }
    }
  }
}

TEST_CASE("script lines encode the messages they name", "[differential]") {
  // One pipelined step of every kind of message, checked against the codec's own encoders.
  const ProtocolScript script = ProtocolScript::parse("inline", R"(
    # a comment, then messages
    Parse name="s1" query="select $1::int" types=[23]
    Bind portal="p" statement="s1" params=["4\x32", NULL, x"00ff"] formats=[0] result_formats=[1]
    Execute portal="p" max_rows=2
    Describe portal "p"
    Close statement "s1"
    Flush
    Sync ignored
    FunctionCall oid=1397 args=["-5"]
    Await
  )");
  REQUIRE(script.steps.size() == 1);
  const ScriptStep& step = script.steps[0];
  CHECK(step.owed_ready == 1);  // the FunctionCall; the Sync is marked ignored

  namespace fe = pggat::proto::fe;
  pggat::proto::Buffer want;
  const std::uint32_t types[] = {23};
  fe::Parse::encode(want, "s1", "select $1::int", types);
  const std::int16_t text[] = {0}, binary[] = {1};
  const std::string binary_value("\x00\xff", 2);
  const std::optional<pggat::proto::Bytes> params[] = {pggat::proto::as_bytes("42"), std::nullopt,
                                                       pggat::proto::as_bytes(binary_value)};
  fe::Bind::encode(want, "p", "s1", text, params, binary);
  fe::Execute{"p", 2}.encode(want);
  fe::Describe{fe::Target::portal, "p"}.encode(want);
  fe::Close{fe::Target::statement, "s1"}.encode(want);
  fe::Flush{}.encode(want);
  fe::Sync{}.encode(want);
  const std::optional<pggat::proto::Bytes> args[] = {pggat::proto::as_bytes("-5")};
  fe::FunctionCall::encode(want, 1397, {}, args, 0);
  CHECK(step.send == want);

  CHECK_THROWS_WITH(ProtocolScript::parse("bad", "Bind portl=\"\""),
                    Catch::Contains("bad:1") && Catch::Contains("unexpected argument portl"));
  CHECK_THROWS_WITH(ProtocolScript::parse("bad", "\nQuery \"select 1"),
                    Catch::Contains("bad:2") && Catch::Contains("unterminated string"));
  CHECK_THROWS_WITH(ProtocolScript::parse("bad", "Parse query=\"select 1\"\nAwait"),
                    Catch::Contains("bad:2") && Catch::Contains("no ReadyForQuery owed"));
  CHECK_THROWS_WITH(ProtocolScript::parse("bad", "Frobnicate"), Catch::Contains("unknown command"));
}

TEST_CASE("replies are normalized only where two runs may legitimately differ", "[differential]") {
  namespace be = pggat::proto::be;
  ReplyNormalizer normalize;
  // An encoded message as RawClient::read returns it: type byte, body.
  const auto received = [](const pggat::proto::Buffer& encoded) {
    return RawMessage{static_cast<char>(encoded.at(0)),
                      pggat::proto::Buffer(encoded.begin() + 5, encoded.end())};
  };
  const auto message = [&received](const auto& encodable) {
    pggat::proto::Buffer b;
    encodable.encode(b);
    return received(b);
  };

  // File, Line and Routine go; process ids and temp schema numbers are masked.
  const be::ErrorField fields[] = {
      {'S', "ERROR"},
      {'C', "40P01"},
      {'M', "deadlock detected"},
      {'D', "Process 4711 waits for ShareLock; blocked by process 815."},
      {'s', "pg_temp_3"},
      {'F', "deadlock.c"},
      {'L', "1148"},
      {'R', "DeadLockReport"}};
  pggat::proto::Buffer error;
  be::ErrorResponse::encode(error, fields);
  CHECK(normalize(received(error)) ==
        "E ErrorResponse S=\"ERROR\" C=\"40P01\" M=\"deadlock detected\" "
        "D=\"Process <pid> waits for ShareLock; blocked by process <pid>.\" s=\"pg_temp_N\"");

  CHECK(normalize(message(be::BackendKeyData{1234, 5678})) == "K BackendKeyData");
  CHECK(normalize(message(be::NotificationResponse{1234, "ch", "hi"})) ==
        "A NotificationResponse channel=\"ch\" payload=\"hi\"");

  // Table OIDs are numbered in order of appearance, the same table keeping its number.
  const auto row_description = [&](std::uint32_t first, std::uint32_t second) {
    const be::FieldDescription f[] = {{"a", first, 1, 23, 4, -1, 0},
                                      {"b", second, 2, 25, -1, -1, 0}};
    pggat::proto::Buffer b;
    be::RowDescription::encode(b, f);
    return normalize(received(b));
  };
  CHECK(row_description(16400, 0) ==
        "T RowDescription [\"a\" table=#1 column=1 type=23 size=4 mod=-1 format=0] "
        "[\"b\" table=0 column=2 type=25 size=-1 mod=-1 format=0]");
  CHECK(row_description(16500, 16400) ==
        "T RowDescription [\"a\" table=#2 column=1 type=23 size=4 mod=-1 format=0] "
        "[\"b\" table=#1 column=2 type=25 size=-1 mod=-1 format=0]");

  // Everything else is kept as is, binary data escaped.
  const std::string bytes("a\tb\n\x01\"", 6);
  CHECK(normalize(message(be::CopyData{pggat::proto::as_bytes(bytes)})) ==
        "d CopyData \"a\\tb\\n\\x01\\\"\"");
}

TEST_CASE("32 clients COPY in and out through 4 server connections, in both modes",
          "[differential][stress]") {
  // In session mode the 32 clients queue for the 4 servers, each holding one
  // for its whole session, so the later ones wait several rounds. In
  // transaction mode each holds one for its transaction: the COPYs run inside
  // one, on a temp table that goes with it.
  const std::string mode = GENERATE(as<std::string>{}, "session", "transaction");
  INFO("pool mode " << mode);
  const bool in_transaction = mode == "transaction";
  InProcessPooler pooler(session_config({{"mode", mode}, {"client_acquire_timeout", "120s"}},
                                        {{"max_connections", 4}}));
  constexpr int clients = 32;
  constexpr int rows = 3000;

  struct Outcome {
    std::string error;
    std::string backend_pid;
    std::string copied_in;  // COPY's row count
    int copied_out = 0;
    int wrong_lines = 0;
  };
  std::vector<Outcome> outcomes(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&pooler, &outcome = outcomes[c], c, in_transaction] {
      const auto line = [c](int n) {
        return std::to_string(c) + "\t" + std::to_string(n) + "\tclient " + std::to_string(c) +
               " row " + std::to_string(n) + "\n";
      };
      try {
        // libpq's connect_timeout covers the wait for a server: the default
        // 10 s of conninfo() could run out on a loaded machine.
        PqConnection pq(pooler.conninfo("app", "app", "connect_timeout=120"));
        if (in_transaction && !pq.exec("begin").ok()) throw std::runtime_error("begin failed");
        outcome.backend_pid = pq.exec("select pg_backend_pid()").value();
        const std::string create = "create temp table stress_rows (client int, n int, label text)";
        if (!pq.exec(in_transaction ? create + " on commit drop" : create).ok())
          throw std::runtime_error("create table failed");
        if (pq.exec("copy stress_rows from stdin").status() != PGRES_COPY_IN)
          throw std::runtime_error("copy in did not start");
        std::string chunk;
        for (int n = 0; n < rows; ++n) {
          chunk += line(n);
          if (chunk.size() > 8192 || n == rows - 1) {
            if (PQputCopyData(pq.get(), chunk.data(), static_cast<int>(chunk.size())) != 1)
              throw std::runtime_error("PQputCopyData failed");
            chunk.clear();
          }
        }
        if (PQputCopyEnd(pq.get(), nullptr) != 1) throw std::runtime_error("PQputCopyEnd failed");
        PqResult in(PQgetResult(pq.get()));
        if (!in.ok()) throw std::runtime_error("copy in: " + in.error());
        outcome.copied_in = PQcmdTuples(in.get());
        while (PGresult* r = PQgetResult(pq.get())) PQclear(r);

        if (pq.exec("copy (select * from stress_rows order by n) to stdout").status() !=
            PGRES_COPY_OUT)
          throw std::runtime_error("copy out did not start");
        for (;;) {
          char* buf = nullptr;
          const int len = PQgetCopyData(pq.get(), &buf, 0);
          if (len < 0) break;
          if (std::string(buf, static_cast<std::size_t>(len)) != line(outcome.copied_out))
            ++outcome.wrong_lines;
          PQfreemem(buf);
          ++outcome.copied_out;
        }
        PqResult out(PQgetResult(pq.get()));
        if (!out.ok()) throw std::runtime_error("copy out: " + out.error());
        while (PGresult* r = PQgetResult(pq.get())) PQclear(r);
        if (in_transaction && !pq.exec("commit").ok()) throw std::runtime_error("commit failed");
      } catch (const std::exception& e) {
        outcome.error = e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::set<std::string> pids;
  for (int c = 0; c < clients; ++c) {
    const Outcome& o = outcomes[c];
    INFO("client " << c);
    CHECK(o.error.empty());
    CHECK(o.copied_in == std::to_string(rows));
    CHECK(o.copied_out == rows);
    CHECK(o.wrong_lines == 0);
    pids.insert(o.backend_pid);
  }
  // Every client was served by one of at most 4 server connections.
  CHECK(pids.size() <= 4);
}
