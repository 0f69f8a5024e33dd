// Protocol scripts: parsing the text format, running it, normalizing the replies.
#include "support/protocol_script.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <utility>

#include "pggat/proto/backend.hpp"
#include "pggat/proto/frontend.hpp"
#include "pggat/proto/message_types.hpp"

namespace pggat::test {
namespace {

// The backslash escapes of script strings, which transcripts use too:
// (letter after the backslash, character it stands for). Others: \xNN.
constexpr std::pair<char, char> escapes[] = {
    {'n', '\n'}, {'t', '\t'}, {'r', '\r'}, {'\\', '\\'}, {'"', '"'}};

// ---- Parsing ----

struct Value {
  enum class Kind { word, string, null, list };
  Kind kind = Kind::word;
  std::string text;  // word or string contents
  std::vector<Value> items;
};

struct Arg {
  std::string key;  // empty for a positional argument
  Value value;
};

// One line split into its command and arguments.
class LineParser {
 public:
  LineParser(std::string_view text, std::string where) : s_(text), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& what) const { throw ScriptError(where_ + ": " + what); }

  std::string command() {
    skip_spaces();
    return word();
  }

  std::vector<Arg> args() {
    std::vector<Arg> out;
    for (skip_spaces(); i_ < s_.size(); skip_spaces()) {
      Arg a;
      const std::size_t start = i_;
      if (word_char(peek())) {
        std::string w = word();
        if (peek() == '=') {
          ++i_;
          a.key = std::move(w);
        } else {
          i_ = start;
        }
      }
      a.value = value();
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  static bool word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_spaces() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  std::string word() {
    const std::size_t start = i_;
    while (i_ < s_.size() && word_char(s_[i_])) ++i_;
    if (i_ == start) fail("expected a word at column " + std::to_string(start + 1));
    return std::string(s_.substr(start, i_ - start));
  }

  Value value() {
    Value v;
    if (peek() == '"') {
      v.kind = Value::Kind::string;
      v.text = quoted();
    } else if (peek() == 'x' && i_ + 1 < s_.size() && s_[i_ + 1] == '"') {
      ++i_;
      v.kind = Value::Kind::string;
      v.text = from_hex(quoted());
    } else if (peek() == '[') {
      v.kind = Value::Kind::list;
      ++i_;
      for (skip_spaces(); peek() != ']'; skip_spaces()) {
        if (!v.items.empty()) {
          if (peek() != ',') fail("expected ',' or ']' in a list");
          ++i_;
          skip_spaces();
        }
        v.items.push_back(value());
      }
      ++i_;
    } else {
      v.text = word();
      if (v.text == "NULL") v.kind = Value::Kind::null;
    }
    return v;
  }

  std::string quoted() {
    ++i_;  // the opening quote
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated string");
      const char e = s_[i_++];
      if (e == 'x') {
        out += from_hex(std::string(s_.substr(i_, 2)));
        i_ += 2;
        continue;
      }
      const auto* it = std::find_if(std::begin(escapes), std::end(escapes),
                                    [e](const auto& pair) { return pair.first == e; });
      if (it == std::end(escapes)) fail(std::string("unknown escape \\") + e);
      out += it->second;
    }
  }

  std::string from_hex(const std::string& hex) const {
    if (hex.size() % 2 != 0) fail("odd number of hex digits");
    std::string out;
    for (std::size_t k = 0; k < hex.size(); k += 2) {
      if (!std::isxdigit(static_cast<unsigned char>(hex[k])) ||
          !std::isxdigit(static_cast<unsigned char>(hex[k + 1])))
        fail("bad hex digits \"" + hex.substr(k, 2) + "\"");
      out += static_cast<char>(std::stoi(hex.substr(k, 2), nullptr, 16));
    }
    return out;
  }

  std::string_view s_;
  std::string where_;
  std::size_t i_ = 0;
};

// The arguments of one command, taken by key or position; finish() refuses leftovers.
class Args {
 public:
  Args(const LineParser& line, std::vector<Arg> args) : line_(line), args_(std::move(args)) {
    used_.resize(args_.size());
  }

  // The next positional argument, a word or a string.
  std::string positional(const char* what) {
    for (std::size_t k = 0; k < args_.size(); ++k) {
      if (used_[k] || !args_[k].key.empty()) continue;
      used_[k] = true;
      if (args_[k].value.kind == Value::Kind::list)
        line_.fail(std::string(what) + " must not be a list");
      return args_[k].value.text;
    }
    line_.fail(std::string("missing ") + what);
  }
  bool flag(std::string_view word) {
    for (std::size_t k = 0; k < args_.size(); ++k) {
      if (used_[k] || !args_[k].key.empty() || args_[k].value.kind != Value::Kind::word) continue;
      if (args_[k].value.text != word) continue;
      used_[k] = true;
      return true;
    }
    return false;
  }
  const Value* find(std::string_view key) {
    for (std::size_t k = 0; k < args_.size(); ++k) {
      if (args_[k].key != key) continue;
      used_[k] = true;
      return &args_[k].value;
    }
    return nullptr;
  }
  std::string text(std::string_view key, std::string fallback = "") {
    const Value* v = find(key);
    if (v == nullptr) return fallback;
    if (v->kind == Value::Kind::list || v->kind == Value::Kind::null)
      line_.fail(std::string(key) + " must be a word or a string");
    return v->text;
  }
  long number(std::string_view key, long fallback) {
    const std::string t = text(key, std::to_string(fallback));
    try {
      std::size_t used = 0;
      const long n = std::stol(t, &used, 10);
      if (used == t.size()) return n;
    } catch (const std::exception&) {
    }
    line_.fail(std::string(key) + " must be a number, not \"" + t + "\"");
  }
  std::vector<long> numbers(std::string_view key) {
    std::vector<long> out;
    for (const Value& item : list(key)) {
      try {
        std::size_t used = 0;
        out.push_back(std::stol(item.text, &used, 10));
        if (used != item.text.size()) throw std::invalid_argument("trailing characters");
      } catch (const std::exception&) {
        line_.fail(std::string(key) + " must list numbers, not \"" + item.text + "\"");
      }
    }
    return out;
  }
  const std::vector<Value>& list(std::string_view key) {
    static const std::vector<Value> none;
    const Value* v = find(key);
    if (v == nullptr) return none;
    if (v->kind != Value::Kind::list) line_.fail(std::string(key) + " must be a list [...]");
    return v->items;
  }
  void finish() const {
    for (std::size_t k = 0; k < args_.size(); ++k) {
      if (used_[k]) continue;
      const Arg& a = args_[k];
      line_.fail("unexpected argument " + (a.key.empty() ? "\"" + a.value.text + "\"" : a.key));
    }
  }

 private:
  const LineParser& line_;
  std::vector<Arg> args_;
  std::vector<bool> used_;
};

std::vector<std::int16_t> formats(Args& args, std::string_view key) {
  std::vector<std::int16_t> out;
  for (const long f : args.numbers(key)) out.push_back(static_cast<std::int16_t>(f));
  return out;
}

// Values of a Bind or FunctionCall, as views into the parsed line.
std::vector<std::optional<proto::Bytes>> values(const std::vector<Value>& items) {
  std::vector<std::optional<proto::Bytes>> out;
  for (const Value& v : items) {
    if (v.kind == Value::Kind::null)
      out.emplace_back(std::nullopt);
    else
      out.emplace_back(proto::as_bytes(v.text));
  }
  return out;
}

proto::fe::Target target(Args& args, const LineParser& line) {
  const std::string what = args.positional("statement or portal");
  if (what == "statement") return proto::fe::Target::statement;
  if (what == "portal") return proto::fe::Target::portal;
  line.fail("expected statement or portal, not \"" + what + "\"");
}

// Appends the message a line names to step; true for Await, which ends the step.
bool parse_line(const std::string& command, Args& args, const LineParser& line, ScriptStep& step) {
  proto::Buffer& out = step.send;
  if (command == "Query") {
    proto::fe::Query{args.positional("SQL")}.encode(out);
    if (!args.flag("ignored")) ++step.owed_ready;
  } else if (command == "Parse") {
    const std::string name = args.text("name"), query = args.text("query");
    std::vector<std::uint32_t> types;
    for (const long t : args.numbers("types")) types.push_back(static_cast<std::uint32_t>(t));
    proto::fe::Parse::encode(out, name, query, types);
  } else if (command == "Bind") {
    const std::string portal = args.text("portal"), statement = args.text("statement");
    const auto params = values(args.list("params"));
    proto::fe::Bind::encode(out, portal, statement, formats(args, "formats"), params,
                            formats(args, "result_formats"));
  } else if (command == "Execute") {
    const std::string portal = args.text("portal");
    proto::fe::Execute{portal, static_cast<std::int32_t>(args.number("max_rows", 0))}.encode(out);
  } else if (command == "Describe") {
    const auto t = target(args, line);
    proto::fe::Describe{t, args.positional("name")}.encode(out);
  } else if (command == "Close") {
    const auto t = target(args, line);
    proto::fe::Close{t, args.positional("name")}.encode(out);
  } else if (command == "Sync") {
    proto::fe::Sync{}.encode(out);
    if (!args.flag("ignored")) ++step.owed_ready;
  } else if (command == "Flush") {
    proto::fe::Flush{}.encode(out);
  } else if (command == "CopyData") {
    const std::string data = args.positional("data");
    proto::fe::CopyData{proto::as_bytes(data)}.encode(out);
  } else if (command == "CopyDone") {
    proto::fe::CopyDone{}.encode(out);
  } else if (command == "CopyFail") {
    proto::fe::CopyFail{args.positional("reason")}.encode(out);
  } else if (command == "FunctionCall") {
    const auto oid = static_cast<std::uint32_t>(args.number("oid", 0));
    const auto arguments = values(args.list("args"));
    proto::fe::FunctionCall::encode(out, oid, formats(args, "formats"), arguments,
                                    static_cast<std::int16_t>(args.number("result_format", 0)));
    if (!args.flag("ignored")) ++step.owed_ready;
  } else if (command == "Await") {
    const std::string until = args.text("until");
    if (until.size() > 1) line.fail("until= takes one message type byte, e.g. until=G");
    if (!until.empty()) step.until = until[0];
    return true;
  } else {
    line.fail("unknown command \"" + command + "\"");
  }
  return false;
}

// ---- Normalizing ----

std::string escaped(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto* it = std::find_if(std::begin(escapes), std::end(escapes),
                                  [c](const auto& pair) { return pair.second == c; });
    if (it != std::end(escapes)) {
      out += '\\';
      out += it->first;
    } else if (std::isprint(static_cast<unsigned char>(c))) {
      out += c;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
      out += hex;
    }
  }
  return out + "\"";
}

std::string escaped(proto::Bytes b) {
  return escaped(proto::as_string_view(b));
}

std::string value_text(const std::optional<proto::Bytes>& v) {
  return v ? escaped(*v) : "NULL";
}

// Process ids and temporary schema numbers inside texts.
std::string normalized_text(std::string_view text) {
  static const std::regex pid(R"(\b(process|pid) [0-9]+)", std::regex::icase);
  static const std::regex temp_schema(R"(\bpg_(toast_)?temp_[0-9]+)");
  std::string s = std::regex_replace(std::string(text), pid, "$1 <pid>");
  return std::regex_replace(s, temp_schema, "pg_$1temp_N");
}

template <class Diagnostic>
std::string diagnostic(const Diagnostic& d) {
  namespace f = proto::be::error_field;
  std::string out;
  for (const proto::be::ErrorField& field : d.fields) {
    if (field.code == f::file || field.code == f::line || field.code == f::routine) continue;
    out += ' ';
    out += field.code;
    out += '=';
    out += escaped(normalized_text(field.value));
  }
  return out;
}

template <class List>
std::string numbers(const List& list) {
  std::string out = "[";
  for (const auto n : list) out += (out.size() > 1 ? ", " : "") + std::to_string(n);
  return out + "]";
}

}  // namespace

ProtocolScript ProtocolScript::parse(std::string name, std::string_view text) {
  ProtocolScript script;
  script.name = std::move(name);
  ScriptStep step;
  int number = 0;
  // ReadyForQuery owed before this step and not yet surely read (an
  // Await until=X may leave some for later).
  int pending = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view raw = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    ++number;
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\r' || raw.back() == '\t'))
      raw.remove_suffix(1);
    const std::size_t first = raw.find_first_not_of(" \t");
    if (first == std::string_view::npos || raw[first] == '#') continue;

    LineParser line(raw, script.name + ":" + std::to_string(number));
    const std::string command = line.command();
    Args args(line, line.args());
    step.line = number;
    const bool await = parse_line(command, args, line, step);
    args.finish();
    if (await) {
      if (!step.until && pending + step.owed_ready == 0)
        line.fail("Await with no ReadyForQuery owed would read nothing; use Await until=X");
      pending = step.until ? pending + step.owed_ready : 0;
      script.steps.push_back(std::move(step));
      step = ScriptStep{};
    }
  }
  if (!step.send.empty() || step.owed_ready > 0) script.steps.push_back(std::move(step));
  return script;
}

ProtocolScript ProtocolScript::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ScriptError("cannot read " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse(file.filename().string(), text.str());
}

std::string ReplyNormalizer::table(std::uint32_t oid) {
  if (oid == 0) return "0";
  const auto [it, added] = tables_.try_emplace(oid, static_cast<int>(tables_.size()) + 1);
  return "#" + std::to_string(it->second);
}

std::string ReplyNormalizer::operator()(const RawMessage& m) {
  namespace be = proto::be;
  const proto::Bytes body = m.body;
  const std::string_view name = proto::message_kind(proto::Direction::backend, m.type).name;
  std::string out(1, m.type);
  out += ' ';
  out += name.empty() ? "unknown message" : name;
  const auto malformed = [&] { return out + " (malformed) " + escaped(body); };

  switch (m.type) {
    case 'K':  // BackendKeyData: the pooler's own key, never PostgreSQL's
      return out;
    case 'A': {
      const auto n = be::NotificationResponse::decode(body);
      if (!n) return malformed();
      return out + " channel=" + escaped(n->channel) + " payload=" + escaped(n->payload);
    }
    case 'E': {
      const auto e = be::ErrorResponse::decode(body);
      return e ? out + diagnostic(*e) : malformed();
    }
    case 'N': {
      const auto n = be::NoticeResponse::decode(body);
      return n ? out + diagnostic(*n) : malformed();
    }
    case 'T': {
      const auto t = be::RowDescription::decode(body);
      if (!t) return malformed();
      for (const be::FieldDescription& f : t->fields) {
        out += " [" + escaped(f.name) + " table=" + table(f.table_oid) +
               " column=" + std::to_string(f.column_attr) + " type=" + std::to_string(f.type_oid) +
               " size=" + std::to_string(f.type_size) + " mod=" + std::to_string(f.type_modifier) +
               " format=" + std::to_string(f.format) + "]";
      }
      return out;
    }
    case 'D': {
      const auto d = be::DataRow::decode(body);
      if (!d) return malformed();
      for (const auto& v : d->columns) out += " " + value_text(v);
      return out;
    }
    case 'V': {
      const auto v = be::FunctionCallResponse::decode(body);
      return v ? out + " " + value_text(v->result) : malformed();
    }
    case 'C': {
      const auto c = be::CommandComplete::decode(body);
      return c ? out + " " + escaped(c->tag) : malformed();
    }
    case 'S': {
      const auto p = be::ParameterStatus::decode(body);
      return p ? out + " " + std::string(p->name) + "=" + escaped(p->value) : malformed();
    }
    case 'Z': {
      const auto z = be::ReadyForQuery::decode(body);
      return z ? out + " " + static_cast<char>(z->status) : malformed();
    }
    case 't': {
      const auto t = be::ParameterDescription::decode(body);
      return t ? out + " " + numbers(t->type_oids) : malformed();
    }
    case 'G':
    case 'H':
    case 'W': {
      // The three share a layout; CopyInResponse decodes them all.
      const auto c = be::CopyInResponse::decode(body);
      return c ? out + " format=" + std::to_string(c->overall_format) +
                     " columns=" + numbers(c->column_formats)
               : malformed();
    }
    case 'd':
      return out + " " + escaped(body);
    default:
      // Messages without a body (ParseComplete, NoData, ...) show it empty.
      return body.empty() ? out : out + " " + escaped(body);
  }
}

Transcript run_script(const ProtocolScript& script, RawClient& client, const RawMessage& ready) {
  constexpr auto timeout = std::chrono::seconds(10);
  Transcript t;
  ReplyNormalizer normalize;
  t.messages.push_back(normalize(ready));
  int owed = 0;
  // Reads one message into the transcript and returns its type; 0 (noted
  // there) when none came.
  const auto read_one = [&](const std::string& awaiting) -> char {
    auto m = client.read(timeout);
    if (!m) {
      t.messages.push_back(client.closed(std::chrono::milliseconds(0))
                               ? "<closed while awaiting " + awaiting + ">"
                               : "<no reply within 10 s while awaiting " + awaiting + ">");
      return 0;
    }
    t.messages.push_back(normalize(*m));
    if (m->type == 'Z') --owed;
    return m->type;
  };

  // Sends bytes; false (noted in the transcript) when the peer is gone.
  const auto send = [&](proto::Bytes bytes, const std::string& where) {
    try {
      client.send(bytes);
      return true;
    } catch (const std::runtime_error& e) {
      t.messages.push_back("<" + std::string(e.what()) + " at " + where + ">");
      return false;
    }
  };

  for (const ScriptStep& step : script.steps) {
    const std::string where = "line " + std::to_string(step.line);
    if (!send(step.send, where)) return t;
    owed += step.owed_ready;
    if (step.until) {
      const std::string awaiting = std::string("'") + *step.until + "' (" + where + ")";
      for (;;) {
        const char type = read_one(awaiting);
        if (type == 0) return t;
        if (type == *step.until) break;
      }
    } else {
      const std::string awaiting = "ReadyForQuery (" + where + ")";
      while (owed > 0)
        if (read_one(awaiting) == 0) return t;
    }
  }

  // Anything still unread shows up now, before the close. A peer that has
  // closed already (after a FATAL) may refuse the Terminate.
  proto::Buffer terminate;
  proto::fe::Terminate{}.encode(terminate);
  try {
    client.send(terminate);
  } catch (const std::runtime_error&) {
  }
  while (auto m = client.read(timeout)) t.messages.push_back(normalize(*m));
  t.complete = client.closed(std::chrono::milliseconds(0));
  t.messages.push_back(t.complete ? "<closed>" : "<still open 10 s after Terminate>");
  return t;
}

}  // namespace pggat::test
