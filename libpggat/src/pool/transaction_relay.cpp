// Transaction relay: a unit of work relayed with statements renamed and replies accounted for.
#include "pool/transaction_relay.hpp"

#include <algorithm>
#include <cctype>

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "pggat/proto/writer.hpp"
#include "pool/middleware_run.hpp"
#include "pool/query_scan.hpp"
#include "pool/relay_pair.hpp"
#include "pool/response_queue.hpp"

namespace pggat::pool {
namespace {

using Kind = PendingReply::Kind;

// Query texts longer than this are data loads, not SET statements: not scanned.
constexpr std::size_t max_scanned_query = 64 * 1024;

// Statement names pggat uses on servers for its own purposes; clients' names
// never reach a server unrenamed, except unknown ones, which fail there as
// they would on PostgreSQL.
constexpr std::string_view duplicate_probe_name = "pggat_duplicate";
constexpr std::string_view duplicate_probe_query = "pggat: statement already exists";

// The client's tracked parameters that `server` does not report, worked out
// again only when the tracked list or the server's parameters changed.
std::span<const std::string> unreported_parameters(const backend::ServerConnection& server,
                                                   TransactionServer& server_state,
                                                   const TransactionClient& client) {
  TransactionServer::Unreported& cache = server_state.unreported;
  const std::uint64_t reported = server.parameters.version();
  if (client.tracked_id == 0 || cache.tracked_id != client.tracked_id || cache.reported_version != reported) {
    cache.names.clear();
    for (const auto& name : *client.tracked)
      if (server.parameters.find(name) == nullptr) cache.names.push_back(name);
    cache.tracked_id = client.tracked_id;
    cache.reported_version = reported;
  }
  return cache.names;
}

// A message that failed, was skipped after a failure, or may never have been
// answered leaves no trace: the statements it would have created are forgotten.
void forget(const PendingReply& e, TransactionClient& client, TransactionServer& server) {
  if (e.client_parse) client.statements.erase_if_same(e.client_parse);
  if (e.server_statement) server.statements.erase(e.server_statement.get());
}

// Client to server: statements renamed and prepared where missing, every
// message that will be answered queued, Terminate ends the unit.
class UpInspector {
 public:
  UpInspector(backend::ServerConnection& server, TransactionServer& server_state,
              TransactionClient& client_state, const UnitOptions& options, ResponseQueue& queue,
              MiddlewareRun& middlewares, Injections& injections, RetrySegment* retry)
      : server_(server),
        server_state_(server_state),
        client_(client_state),
        options_(options),
        queue_(queue),
        middlewares_(middlewares),
        injections_(injections),
        retry_(retry),
        record_(options.record) {
    // Tracked parameters the server does not report may change silently:
    // queries naming them are looked for.
    if (options_.dynamic_parameters) unreported_ = unreported_parameters(server_, server_state_, client_);
  }

  bool needs_whole(char type) const {
    switch (type) {
      case 'P':
      case 'B':
      case 'D':
        return options_.registry != nullptr || middlewares_.wants(type);
      case 'Q':
        return !unreported_.empty() || middlewares_.wants(type);
      default:
        return middlewares_.wants(type);
    }
  }

  // A message kept for a replay is needed whole, as long as it fits.
  bool needs_whole(char type, std::size_t total) {
    if (record_ != nullptr && record_->fits(total)) return true;
    return needs_whole(type);
  }
  void on_streamed(char) {
    if (record_ != nullptr) record_->give_up();
  }
  void on_consumed() {
    if (record_ != nullptr) record_->on_consumed();
  }

  FrameAction on_frame(char type, proto::Bytes body) {
    if (type == 'X') return FrameAction::stop;
    if (options_.meter != nullptr) options_.meter->on_client_message();
    if (record_ != nullptr) record_->keep(type, body);
    if (middlewares_.wants(type) && !middlewares_.run(type, body)) return FrameAction::drop;
    if (retry_ != nullptr) record(type, body);
    switch (type) {
      case 'Q':
        after_execute_ = false;
        note_query(proto::as_string_view(body));
        if (options_.registry != nullptr) return on_query(body);
        expect({.kind = Kind::query});
        return FrameAction::forward;
      case 'F':
        expect({.kind = Kind::query});
        return FrameAction::forward;
      case 'S':
        // A Sync during COPY FROM STDIN is ignored by PostgreSQL: no reply.
        if (!server_.state.copy_in())
          queue_.push({.kind = Kind::sync, .maybe_in_copy = after_execute_});
        server_.state.on_client('S');
        return FrameAction::forward;
      case 'E':
        after_execute_ = true;
        expect({.kind = Kind::execute});
        return FrameAction::forward;
      case 'c':
      case 'f':
        after_execute_ = false;
        server_.state.on_client(type);
        return FrameAction::forward;
      case 'C':
        // Unknown names, portals and even the client's own statement names
        // (which the server never had) all close as PostgreSQL would: with
        // CloseComplete. The server's copy stays for other clients.
        if (options_.registry != nullptr) forget_closed(body);
        expect({.kind = Kind::close});
        return FrameAction::forward;
      case 'P':
        return on_parse(body);
      case 'B':
        return on_bind(body);
      case 'D':
        return on_describe(body);
      default:
        server_.state.on_client(type);  // Flush, CopyData: nothing owed
        return FrameAction::forward;
    }
  }

  Injections* injections() { return &injections_; }
  // Within a unit the client holds its server: whenever the server owes
  // nothing, it waits on the client.
  bool waiting_on_client() const { return !server_.state.awaiting_server(); }

 private:
  // A message that goes to the server (the client's or pggat's own, in the
  // order they are written) and will be answered.
  void expect(PendingReply e) {
    server_.state.on_client(message_type(e.kind));
    queue_.push(std::move(e));
  }

  void note_query(std::string_view text) {
    if (unreported_.empty() || client_.settings_dirty) return;
    if (text.size() > max_scanned_query) text = text.substr(0, max_scanned_query);
    for (const auto& name : unreported_)
      if (contains_ignoring_case(text, name)) {
        client_.settings_dirty = true;
        return;
      }
  }

  // SQL DEALLOCATE of one of the client's protocol-level statements: the
  // server never had that name. The client's statement goes, and the server
  // runs a DEALLOCATE of its own (after a PREPARE of a throwaway name, whose
  // reply is dropped) so the client gets the reply, or the error, it expects.
  FrameAction on_query(proto::Bytes body) {
    std::string_view text = proto::as_string_view(body);
    if (!text.empty() && text.back() == '\0') text.remove_suffix(1);
    // Most clients have no protocol-level statements to deallocate: no parse.
    const auto name =
        client_.statements.size() != 0 && text.size() < 1024 ? sql_deallocate_name(text) : std::nullopt;
    if (!name || !client_.statements.find(*name)) {
      expect({.kind = Kind::query});
      return FrameAction::forward;
    }
    client_.statements.erase(*name);
    proto::fe::Query{"PREPARE pggat_deallocate AS SELECT 1; DEALLOCATE pggat_deallocate"}.encode(
        injections_.forward);
    expect({.kind = Kind::query, .drop_first_command = true});
    return FrameAction::drop;
  }

  FrameAction on_parse(proto::Bytes body) {
    const auto named = parse_statement_name(body);
    if (named) note_query(proto::as_string_view(body.subspan(named->name.size() + 1)));
    if (options_.registry == nullptr || !named || named->name.empty()) {
      expect({.kind = Kind::parse});
      return FrameAction::forward;
    }
    if (client_.statements.find(named->name)) {
      // PostgreSQL refuses to redefine a named statement. The server must fail
      // too (so it skips to Sync and aborts a transaction as PostgreSQL would):
      // it gets a Parse that cannot succeed, and the error is rewritten.
      append_parse(duplicate_probe_name, duplicate_probe_query);
      expect({.kind = Kind::parse,
                   .renamed = std::make_shared<ClientStatement>(
                       ClientStatement{std::string(named->name), nullptr}),
                   .duplicate = true});
      return FrameAction::drop;
    }
    const proto::Bytes tail = body.subspan(named->name.size() + 1);
    StatementRef def = options_.registry->intern(tail);
    auto statement =
        std::make_shared<const ClientStatement>(ClientStatement{std::string(named->name), def});
    client_.statements.add(statement);
    prepare(def, /*visible=*/statement);
    return FrameAction::drop;
  }

  FrameAction on_bind(proto::Bytes body) {
    const auto named = options_.registry != nullptr ? bind_statement_name(body) : std::nullopt;
    auto statement = named && !named->name.empty() ? client_.statements.find(named->name) : nullptr;
    if (!statement) {
      expect({.kind = Kind::bind});
      return FrameAction::forward;
    }
    // Only a Bind that opened its segment, of a statement the server already
    // had, can fail with nothing else done.
    const bool retry_first = retry_ != nullptr && retry_->recording && retry_->bytes.size() ==
                                                                          body.size() + 5 &&
                             server_state_.statements.touch(statement->def.get());
    ensure_prepared(statement->def);
    append_renamed_bind(injections_.forward, body, named->name_offset, named->name.size(),
                        statement->def->server_name);
    expect({.kind = Kind::bind, .renamed = std::move(statement), .retry_first = retry_first});
    return FrameAction::drop;
  }

  FrameAction on_describe(proto::Bytes body) {
    const auto target = options_.registry != nullptr ? targeted_name(body) : std::nullopt;
    auto statement = target && target->target == 'S' && !target->name.empty()
                         ? client_.statements.find(target->name)
                         : nullptr;
    if (!statement) {
      expect({.kind = Kind::describe});
      return FrameAction::forward;
    }
    ensure_prepared(statement->def);
    append_describe_statement(injections_.forward, statement->def->server_name);
    expect({.kind = Kind::describe, .renamed = std::move(statement)});
    return FrameAction::drop;
  }

  // Keeps the messages of a segment that may have to be sent again.
  void record(char type, proto::Bytes body) {
    RetrySegment& r = *retry_;
    if (at_segment_start_) {
      r.recording = type == 'B' && queue_.empty() && !r.retrying &&
                    server_.state.transaction_status() == 'I';
      r.complete = false;
      r.bytes.clear();
    } else if (r.complete && !r.retrying) {
      r.recording = false;  // more work behind the segment: it is not alone
    }
    at_segment_start_ = type == 'S';
    if (!r.recording || r.complete) return;
    if (r.bytes.size() + body.size() + 5 > RetrySegment::max_bytes) {
      r.recording = false;
      return;
    }
    proto::MessageWriter(r.bytes, type).bytes(body);
    if (type == 'S') r.complete = true;
  }

  void forget_closed(proto::Bytes body) {
    const auto target = targeted_name(body);
    if (target && target->target == 'S' && !target->name.empty())
      client_.statements.erase(target->name);
  }

  // The server gets `def` unless it holds it already.
  void ensure_prepared(const StatementRef& def) {
    if (server_state_.statements.touch(def.get())) return;
    prepare(def, nullptr);
  }

  // Prepares `def` under its server name. A Close goes first: after a failure
  // pggat may not know whether the server kept it, and closing a statement
  // that does not exist is not an error. `visible`: the client's own Parse,
  // whose ParseComplete or error is the client's.
  void prepare(const StatementRef& def, std::shared_ptr<const ClientStatement> visible) {
    if (auto evicted = server_state_.statements.insert(def)) {
      append_close_statement(injections_.forward, (*evicted)->server_name);
      expect({.kind = Kind::close, .swallow = true});
    }
    append_close_statement(injections_.forward, def->server_name);
    expect({.kind = Kind::close, .swallow = true});
    append_renamed_parse(injections_.forward, def->server_name, def->parse_tail);
    const bool swallow = visible == nullptr;
    expect({.kind = Kind::parse,
                 .swallow = swallow,
                 .client_parse = std::move(visible),
                 .server_statement = def});
  }

  void append_parse(std::string_view name, std::string_view query) {
    proto::Buffer tail;
    proto::append(tail, proto::as_bytes(query));
    tail.push_back(std::byte{0});
    tail.push_back(std::byte{0});
    tail.push_back(std::byte{0});
    append_renamed_parse(injections_.forward, name, tail);
  }

  backend::ServerConnection& server_;
  TransactionServer& server_state_;
  TransactionClient& client_;
  const UnitOptions& options_;
  ResponseQueue& queue_;
  MiddlewareRun& middlewares_;
  Injections& injections_;
  std::span<const std::string> unreported_;
  bool after_execute_ = false;  // see PendingReply::maybe_in_copy
  RetrySegment* retry_;         // null: no retries
  bool at_segment_start_ = true;
  ReplayRecord* record_;  // null: not on a replica
};

// Server to client: replies matched against the queue (pggat's own are
// dropped), errors renamed back, parameters deduplicated, and the unit ends
// at the ReadyForQuery that leaves the server idle.
class DownInspector {
 public:
  DownInspector(backend::ServerConnection& server, TransactionServer& server_state,
                TransactionClient& client_state, const UnitOptions& options, ResponseQueue& queue,
                MiddlewareRun& middlewares, Injections& injections, RetrySegment* retry)
      : server_(server),
        server_state_(server_state),
        client_(client_state),
        options_(options),
        queue_(queue),
        middlewares_(middlewares),
        injections_(injections),
        retry_(retry),
        record_(options.record) {
    if (options.replay_of != nullptr) check_.emplace(*options.replay_of);
  }

  bool needs_whole(char type) const {
    return type == 'S' || type == 'Z' || type == 'E' || type == 'C' || middlewares_.wants(type);
  }
  // While a replay is matched, replies are needed whole to be compared.
  bool needs_whole(char type, std::size_t total) const {
    if (check_ && check_->matching() && ReplyTrace::traced(type)) return total <= check_->remaining();
    return needs_whole(type);
  }
  void on_streamed(char type) {
    if (!ReplyTrace::traced(type)) return;
    if (record_ != nullptr) record_->untraceable = true;
    if (check_ && check_->matching()) check_->fail();
  }

  FrameAction on_frame(char type, proto::Bytes body) {
    const FrameAction action = route(type, body);
    if (type == 'Z' && options_.meter != nullptr && !body.empty() &&
        (action == FrameAction::forward || action == FrameAction::last))
      options_.meter->on_ready(static_cast<char>(body[0]));
    return action;
  }

  // Replies are decided as usual; on a replica they are traced (or the relay
  // stops for a replay), and on the primary during a replay the ones the
  // client already has are matched and dropped.
  FrameAction route(char type, proto::Bytes body) {
    if (record_ == nullptr && !check_) return decide(type, body);
    if (record_ != nullptr && type == 'E' && stops_for_replay(body)) {
      server_.observe_server_message(type, body);
      return FrameAction::stop;
    }
    const std::size_t injected = injections_.forward.size();
    FrameAction action = decide(type, body);
    const bool passes = action == FrameAction::forward || action == FrameAction::last;
    const proto::Bytes added(injections_.forward.data() + injected, injections_.forward.size() - injected);
    if (record_ != nullptr) {
      record_->sent.add_raw(added);
      if (passes && ReplyTrace::traced(type)) record_->sent.add_frame(type, body);
      return action;
    }
    if (!check_->matching()) return action;
    check_->add_raw(added);
    injections_.forward.resize(injected);
    if (passes && ReplyTrace::traced(type)) check_->add_frame(type, body);
    if (check_->diverged()) return FrameAction::stop;
    if (passes && type != 'S') {
      // The client has it already; a unit that ends before all is matched diverged.
      if (action == FrameAction::last) {
        if (check_->matching()) check_->fail();
        return FrameAction::stop;
      }
      return FrameAction::drop;
    }
    return action;
  }

  [[nodiscard]] bool diverged() const { return check_ && check_->diverged(); }
  [[nodiscard]] bool write_refused() const { return write_refused_; }
  [[nodiscard]] bool wrote() const { return wrote_; }

 private:
  // An error that moves the unit to the primary, when it can still be moved.
  // A write that cannot (the record overflowed) reaches the client with a
  // word on why.
  bool stops_for_replay(proto::Bytes body) {
    const auto decoded = proto::be::ErrorResponse::decode(body);
    if (!decoded) return false;
    const PgError error = decoded->to_pg_error();
    const ReplayCause cause = replay_cause(error, record_->writes_replay);
    if (cause == ReplayCause::none) return false;
    if (record_->replayable()) {
      record_->cause = cause;
      record_->reason = error.code + " " + error.message;
      return true;
    }
    if (cause == ReplayCause::read_only) write_refused_ = true;
    return false;
  }

 public:
  FrameAction decide(char type, proto::Bytes body) {
    server_.observe_server_message(type, body);
    bool forward = true;
    switch (type) {
      case 'S':
        forward = on_parameter(body);
        break;
      case '1':
        forward = !pop_if(Kind::parse).swallow;
        break;
      case '2':
        pop_if(Kind::bind);
        break;
      case '3':
        forward = !pop_if(Kind::close).swallow;
        break;
      case 'T':
      case 'n':
        if (!queue_.empty() && queue_.front().kind == Kind::describe) queue_.pop();
        break;
      case 'C':
        if (!queue_.empty() && queue_.front().drop_first_command) {
          queue_.front().drop_first_command = false;
          forward = false;
          break;
        }
        on_command_tag(body);
        pop_if(Kind::execute);
        break;
      case 'I':
      case 's':
        pop_if(Kind::execute);
        break;
      case 'G':
        // Syncs the client sent behind the Execute of this COPY get no reply.
        if (!queue_.empty() && queue_.front().kind == Kind::execute) queue_.drop_syncs_behind_front();
        break;
      case 'E':
        forward = on_error(body);
        break;
      case 'Z':
        while (!queue_.empty()) {
          if (queue_.pop().ends_with_ready()) break;
        }
        if (retry_ != nullptr && retry_->retrying) {
          retry_->retrying = false;
          if (queue_.empty()) {
            retry_->ready = true;
            return FrameAction::stop;  // this ReadyForQuery is not the client's
          }
          // The client sent more meanwhile: it gets the error after all.
          proto::append(injections_.forward, retry_->error);
        }
        break;
      default:
        break;
    }
    if (!forward) return FrameAction::drop;
    if (middlewares_.wants(type) && !middlewares_.run(type, body)) return FrameAction::drop;
    if (type == 'Z' && server_.state.idle() && queue_.empty()) return FrameAction::last;
    return FrameAction::forward;
  }

  Injections* injections() { return &injections_; }
  [[nodiscard]] bool sent_fatal() const { return sent_fatal_; }

 private:
  // Pops the front when it is of `kind`; a reply pggat did not expect (a
  // middleware's injection, say) is passed on.
  PendingReply pop_if(Kind kind) {
    if (queue_.empty() || queue_.front().kind != kind) return PendingReply{};
    return queue_.pop();
  }

  bool on_parameter(proto::Bytes body) {
    const auto ps = proto::be::ParameterStatus::decode(body);
    if (!ps) return true;
    if (options_.dynamic_parameters &&
        std::any_of(client_.tracked->begin(), client_.tracked->end(),
                    [&](const std::string& n) { return iequals(n, ps->name); }))
      client_.wanted.set(ps->name, ps->value);
    // The client hears about a value once, however many servers report it.
    const std::string* seen = client_.view.find(ps->name);
    if (seen != nullptr && *seen == ps->value) return false;
    client_.view.set(ps->name, ps->value);
    return true;
  }

  void on_command_tag(proto::Bytes body) {
    const auto cc = proto::be::CommandComplete::decode(body);
    if (!cc) return;
    if (options_.track_writes && !wrote_ && command_writes(cc->tag)) wrote_ = true;
    if (cc->tag == "DISCARD ALL" || cc->tag == "DEALLOCATE ALL") {
      // The server dropped every statement: the client's and other clients'.
      client_.statements.clear();
      server_state_.statements.clear();
    }
    if (cc->tag == "DISCARD ALL") server_state_.settings.clear();
    if ((cc->tag == "DISCARD ALL" || cc->tag == "RESET") && options_.dynamic_parameters)
      client_.settings_dirty = true;
  }

  void undo(const PendingReply& e) { forget(e, client_, server_state_); }

  bool on_error(proto::Bytes body) {
    const auto decoded = proto::be::ErrorResponse::decode(body);
    if (!decoded) return true;
    PgError error = decoded->to_pg_error();
    if (error.is_fatal()) sent_fatal_ = true;
    // A write the replica refused and pggat could not move: the error says why.
    const bool refused = write_refused_ && error.code == "25006";
    if (refused)
      rewrite_message(*decoded, error.message +
                                    " (pggat: this transaction began on a replica and sent more than "
                                    "max_replay_buffer bytes, so it could not move to the primary; "
                                    "retry it: this connection's next transactions begin on the primary)");
    if (queue_.empty() || queue_.front().ends_with_ready()) return !refused;  // inside a Query

    // Extended protocol: the failing message, then everything up to Sync is
    // skipped, a Query or FunctionCall too.
    PendingReply failed = queue_.pop();
    undo(failed);
    while (!queue_.empty() && queue_.front().kind != Kind::sync) undo(queue_.pop());
    if (refused) return false;

    if (failed.duplicate) {
      proto::be::ErrorResponse::encode(
          injections_.forward,
          PgError::error("42P05", "prepared statement \"" + failed.renamed->name + "\" already exists"));
      return false;
    }
    if (failed.renamed && failed.renamed->def) {
      // A statement whose result type changed under it is re-prepared next time.
      if (error.code == "0A000") {
        server_state_.statements.erase(failed.renamed->def.get());
        if (failed.retry_first && retry_ != nullptr && retry_->complete && queue_.size() == 1) {
          retry_->retrying = true;
          retry_->error.clear();
          proto::MessageWriter(retry_->error, 'E').bytes(body);
          return false;
        }
      }
      const std::string& from = failed.renamed->def->server_name;
      if (error.message.find(from) != std::string::npos) {
        std::string message = error.message;
        for (std::size_t at = message.find(from); at != std::string::npos;
             at = message.find(from, at + failed.renamed->name.size()))
          message.replace(at, from.size(), failed.renamed->name);
        rewrite_message(*decoded, message);
        return false;
      }
    }
    return true;
  }

  // The same ErrorResponse with another message text.
  void rewrite_message(const proto::be::ErrorResponse& original, const std::string& message) {
    std::vector<proto::be::ErrorField> fields;
    for (const auto& f : original.fields) {
      if (f.code == proto::be::error_field::message) fields.push_back({f.code, message});
      else fields.push_back(f);
    }
    proto::be::ErrorResponse::encode(injections_.forward, fields);
  }

  backend::ServerConnection& server_;
  TransactionServer& server_state_;
  TransactionClient& client_;
  const UnitOptions& options_;
  ResponseQueue& queue_;
  MiddlewareRun& middlewares_;
  Injections& injections_;
  RetrySegment* retry_;
  bool sent_fatal_ = false;
  ReplayRecord* record_;            // on a replica
  std::optional<ReplayCheck> check_;  // replaying on the primary
  bool write_refused_ = false;
  bool wrote_ = false;
};

// Counts what a unit moved when it ends, on every way out of relay_unit.
struct SettleBytes {
  explicit SettleBytes(ClientMeter* m) : meter(m) {}
  SettleBytes(const SettleBytes&) = delete;
  SettleBytes& operator=(const SettleBytes&) = delete;
  ~SettleBytes() {
    if (meter != nullptr) meter->settle_bytes();
  }
  ClientMeter* meter;
};

// How a unit ended, told from what its relay did; nullopt when its Sync
// segment is to be sent again. A plain function: what it works with stays
// out of relay_unit's frame.
std::optional<UnitOutcome> settle_unit(backend::ServerConnection& server,
                                       TransactionServer& server_state,
                                       TransactionClient& client_state, const UnitOptions& options,
                                       const PairResult& pair, const DownInspector& down) {
  ResponseQueue& queue = server_state.replies;
  UnitOutcome out;
  out.server_sent_fatal = down.sent_fatal();
  out.write_refused = down.write_refused();
  out.wrote = down.wrote();
  PairEnd end = classify(pair, [&] { return server.address.to_string(); });
  // Whatever the server still owed may or may not have happened: forget the
  // statements it would have created.
  auto forget_owed = [&] {
    while (!queue.empty()) forget(queue.pop(), client_state, server_state);
  };
  // A replica that stopped for a replay, or went away, while the unit can
  // still move: whatever it owes is left to the cleanup.
  if (options.record != nullptr &&
      ((end.kind == PairEnd::Kind::server_stopped && options.record->cause != ReplayCause::none) ||
       (end.kind == PairEnd::Kind::server_gone && options.record->replayable() &&
        !pair.client_torn()))) {
    if (options.record->cause == ReplayCause::none) {
      options.record->cause = ReplayCause::server_failed;
      options.record->reason = end.detail;
      server.torn = true;
    }
    out.end = UnitOutcome::End::replay;
    forget_owed();
    return out;
  }
  if (down.diverged()) {
    out.end = UnitOutcome::End::replay_diverged;
    out.detail = "the primary's replies differ from the replica's the client already got";
    forget_owed();
    return out;
  }
  switch (end.kind) {
    case PairEnd::Kind::server_stopped:
      if (server_state.unit.retry.ready) return std::nullopt;
      out.end = UnitOutcome::End::released;
      return out;
    case PairEnd::Kind::client_terminated:
      out.end = UnitOutcome::End::client_terminated;
      break;
    case PairEnd::Kind::client_gone:
      out.end = UnitOutcome::End::client_gone;
      break;
    case PairEnd::Kind::client_protocol_error:
    case PairEnd::Kind::client_idle:
      out.end = UnitOutcome::End::client_protocol_error;
      break;
    case PairEnd::Kind::server_gone:
      out.end = UnitOutcome::End::server_gone;
      break;
  }
  out.detail = std::move(end.detail);
  out.client_error = std::move(end.client_error);
  out.owed_ready = queue.owed_ready();
  forget_owed();
  if (out.end == UnitOutcome::End::server_gone) {
    server.torn = true;
    out.client_torn = pair.client_torn();
  }
  return out;
}

}  // namespace

// Its frame is held under glibc's 1,032-byte cache limit (see UnitBuffers):
// what can live in the server's state does, and the unit's end is told by a
// plain function. The allocation test fails when it grows past.
asio::awaitable<UnitOutcome> relay_unit(detail::ClientSession& client,
                                        backend::ServerConnection& server,
                                        TransactionServer& server_state,
                                        TransactionClient& client_state, const UnitOptions& options,
                                        std::span<const std::unique_ptr<Middleware>> middlewares) {
  // While the unit runs, a CancelRequest for this client goes to this server.
  const detail::ClientSession::CancelTo cancel_to(client, server.address, server.key);
  // The bytes the unit moved are counted once it is over, however it ends.
  const SettleBytes settle{options.meter};
  const proto::FrameRules client_rules{proto::Direction::frontend, proto::states::frontend_ready,
                                       client.facts.max_message_size};
  ResponseQueue& queue = server_state.replies;
  UnitBuffers& buffers = server_state.unit;
  const bool replaying = options.record != nullptr || options.replay_of != nullptr;
  // The second pass is the retry of a Sync segment whose statement changed
  // under it; a statement that changes again under the retry fails visibly.
  for (bool may_retry = options.registry != nullptr && options.retry_changed_statements && !replaying;;
       may_retry = false) {
    // Not expected: a unit ends owing nothing.
    while (!queue.empty()) forget(queue.pop(), client_state, server_state);
    // A unit cut short may have left injected bytes behind.
    buffers.begin();
    MiddlewareRun client_side(middlewares, client.client, server.state, true, buffers.up_injections);
    MiddlewareRun server_side(middlewares, client.client, server.state, false,
                              buffers.down_injections);
    RetrySegment* const retry_ptr = may_retry ? &buffers.retry : nullptr;
    UpInspector up(server, server_state, client_state, options, queue, client_side,
                   buffers.up_injections, retry_ptr);
    DownInspector down(server, server_state, client_state, options, queue, server_side,
                       buffers.down_injections, retry_ptr);
    PairResult pair;
    bool relayed = false;
    // A watchdog on an idle client needs relay_pair from the start.
    if (options.idle_transaction_timeout.count() == 0) {
      // Its reads wait for epoll at once; the App's sweep finds an end of
      // file hidden behind the client's last message (Stream::set_watched_reads).
      client.conn.stream.set_watched_reads(true);
      relayed = co_await relay_in_turns(client.conn, server.conn, client_rules,
                                        backend::server_frame_rules, up, down, server.state,
                                        buffers.pumps.up, pair);
      client.conn.stream.set_watched_reads(false);
    }
    if (!relayed)
      co_await relay_pair(client.conn, server.conn, client_rules, backend::server_frame_rules, up,
                          down, buffers.pumps, pair, options.idle_transaction_timeout);
    if (pair.server_torn()) server.torn = true;

    std::optional<UnitOutcome> out =
        settle_unit(server, server_state, client_state, options, pair, down);
    if (out) co_return std::move(*out);
    // Sent again as if the client had just sent it, ahead of anything newer.
    client.conn.in.prepend(buffers.retry.bytes);
  }
}

std::size_t prepare_only_batch(proto::Bytes buffered, std::uint32_t max_message_size,
                               TransactionClient& client_state, StatementRegistry& registry,
                               proto::Buffer& reply) {
  const proto::FrameRules rules{proto::Direction::frontend, proto::states::frontend_ready,
                                max_message_size};
  // First pass: is it Parse of new names, then Sync, all here?
  std::size_t pos = 0;
  std::size_t parses = 0;
  for (;;) {
    const proto::HeaderResult h = proto::decode_header(buffered.subspan(pos), rules);
    if (h.status != proto::DecodeStatus::ok || buffered.size() - pos < h.header.total_size()) return 0;
    const proto::Bytes body =
        buffered.subspan(pos + proto::FrameHeader::size, h.header.body_size());
    pos += h.header.total_size();
    if (h.header.type == 'S') break;
    if (h.header.type != 'P') return 0;
    const auto named = parse_statement_name(body);
    if (!named || named->name.empty() || client_state.statements.find(named->name)) return 0;
    ++parses;
  }
  if (parses == 0) return 0;
  // Second pass: record them and answer as the server would have.
  std::size_t at = 0;
  while (at < pos) {
    const proto::HeaderResult h = proto::decode_header(buffered.subspan(at), rules);
    const proto::Bytes body = buffered.subspan(at + proto::FrameHeader::size, h.header.body_size());
    at += h.header.total_size();
    if (h.header.type != 'P') continue;
    const auto named = parse_statement_name(body);
    StatementRef def = registry.intern(body.subspan(named->name.size() + 1));
    client_state.statements.add(std::make_shared<const ClientStatement>(
        ClientStatement{std::string(named->name), std::move(def)}));
    proto::be::ParseComplete{}.encode(reply);
  }
  proto::be::ReadyForQuery{proto::be::TransactionStatus::idle}.encode(reply);
  return pos;
}

}  // namespace pggat::pool
