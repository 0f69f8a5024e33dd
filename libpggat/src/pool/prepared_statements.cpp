// Prepared-statement bookkeeping: interning, per-client names, per-server LRU, renaming.
#include "pool/prepared_statements.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace pggat::pool {
namespace {

std::string_view tail_text(const proto::Buffer& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// The length of a NUL-terminated string at `at`, or nullopt when unterminated.
std::optional<std::size_t> cstring_length(proto::Bytes body, std::size_t at) {
  if (at > body.size()) return std::nullopt;
  const void* nul = std::memchr(body.data() + at, 0, body.size() - at);
  if (nul == nullptr) return std::nullopt;
  return static_cast<std::size_t>(static_cast<const std::byte*>(nul) - (body.data() + at));
}

void append_u32(proto::Buffer& out, std::uint32_t v) {
  out.push_back(static_cast<std::byte>(v >> 24));
  out.push_back(static_cast<std::byte>(v >> 16));
  out.push_back(static_cast<std::byte>(v >> 8));
  out.push_back(static_cast<std::byte>(v));
}

void append_header(proto::Buffer& out, char type, std::size_t body_size) {
  out.push_back(static_cast<std::byte>(type));
  append_u32(out, static_cast<std::uint32_t>(body_size + 4));
}

void append_cstring(proto::Buffer& out, std::string_view s) {
  proto::append(out, proto::as_bytes(s));
  out.push_back(std::byte{0});
}

void append_targeted(proto::Buffer& out, char type, std::string_view name) {
  append_header(out, type, 1 + name.size() + 1);
  out.push_back(static_cast<std::byte>('S'));
  append_cstring(out, name);
}

}  // namespace

StatementRef StatementRegistry::intern(proto::Bytes parse_tail) {
  const std::string_view text = proto::as_string_view(parse_tail);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016zx", std::hash<std::string_view>{}(text));
  std::string name = std::string("pggat_") + hex;

  std::lock_guard lock(mu_);
  // Different statements with the same hash get a suffix, so a server name
  // always means one statement while anyone uses it.
  for (unsigned n = 1;; ++n) {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) break;
    if (auto live = it->second.lock()) {
      if (tail_text(live->parse_tail) == text) return live;
      name = std::string("pggat_") + hex + "_" + std::to_string(n);
      continue;
    }
    by_name_.erase(it);
    break;
  }
  auto def = std::make_shared<StatementDef>();
  def->server_name = name;
  def->parse_tail.assign(parse_tail.begin(), parse_tail.end());
  by_name_.emplace(std::move(name), def);
  // Expired entries are swept now and then so the table tracks live statements.
  if (by_name_.size() > 64 && by_name_.size() % 64 == 0)
    std::erase_if(by_name_, [](const auto& e) { return e.second.expired(); });
  return def;
}

std::size_t StatementRegistry::size() {
  std::lock_guard lock(mu_);
  std::erase_if(by_name_, [](const auto& e) { return e.second.expired(); });
  return by_name_.size();
}

std::shared_ptr<const ClientStatement> ClientStatements::find(std::string_view name) const {
  if (!by_name_) return nullptr;
  auto it = by_name_->find(name);
  return it == by_name_->end() ? nullptr : it->second;
}

void ClientStatements::add(std::shared_ptr<const ClientStatement> statement) {
  if (!by_name_) by_name_ = std::make_unique<Map>();
  std::string name = statement->name;
  by_name_->insert_or_assign(std::move(name), std::move(statement));
}

void ClientStatements::erase(std::string_view name) {
  if (!by_name_) return;
  if (auto it = by_name_->find(name); it != by_name_->end()) by_name_->erase(it);
}

void ClientStatements::erase_if_same(const std::shared_ptr<const ClientStatement>& statement) {
  if (!by_name_) return;
  auto it = by_name_->find(std::string_view(statement->name));
  if (it != by_name_->end() && it->second == statement) by_name_->erase(it);
}

bool ServerStatements::touch(const StatementDef* def) {
  auto it = index_.find(def);
  if (it == index_.end()) return false;
  if (it->second != order_.begin()) order_.splice(order_.begin(), order_, it->second);
  return true;
}

std::optional<StatementRef> ServerStatements::insert(StatementRef def) {
  if (touch(def.get())) return std::nullopt;
  std::optional<StatementRef> evicted;
  if (capacity_ > 0 && index_.size() >= capacity_) {
    evicted = std::move(order_.back());
    index_.erase(evicted->get());
    order_.pop_back();
  }
  const StatementDef* key = def.get();
  order_.push_front(std::move(def));
  index_.emplace(key, order_.begin());
  return evicted;
}

void ServerStatements::erase(const StatementDef* def) {
  auto it = index_.find(def);
  if (it == index_.end()) return;
  order_.erase(it->second);
  index_.erase(it);
}

void ServerStatements::clear() {
  index_.clear();
  order_.clear();
}

void append_renamed_parse(proto::Buffer& out, std::string_view new_name, proto::Bytes parse_tail) {
  append_header(out, 'P', new_name.size() + 1 + parse_tail.size());
  append_cstring(out, new_name);
  proto::append(out, parse_tail);
}

void append_renamed_bind(proto::Buffer& out, proto::Bytes bind_body, std::size_t name_offset,
                         std::size_t name_length, std::string_view new_name) {
  append_header(out, 'B', bind_body.size() - name_length + new_name.size());
  proto::append(out, bind_body.first(name_offset));
  proto::append(out, proto::as_bytes(new_name));
  proto::append(out, bind_body.subspan(name_offset + name_length));
}

void append_close_statement(proto::Buffer& out, std::string_view name) {
  append_targeted(out, 'C', name);
}

void append_describe_statement(proto::Buffer& out, std::string_view name) {
  append_targeted(out, 'D', name);
}

std::optional<NamedMessage> parse_statement_name(proto::Bytes body) {
  const auto n = cstring_length(body, 0);
  if (!n) return std::nullopt;
  return NamedMessage{proto::as_string_view(body.first(*n)), 0};
}

std::optional<NamedMessage> bind_statement_name(proto::Bytes body) {
  const auto portal = cstring_length(body, 0);
  if (!portal) return std::nullopt;
  const std::size_t at = *portal + 1;
  const auto n = cstring_length(body, at);
  if (!n) return std::nullopt;
  return NamedMessage{proto::as_string_view(body.subspan(at, *n)), at};
}

std::optional<TargetedName> targeted_name(proto::Bytes body) {
  if (body.empty()) return std::nullopt;
  const auto n = cstring_length(body, 1);
  if (!n) return std::nullopt;
  return TargetedName{static_cast<char>(body[0]), proto::as_string_view(body.subspan(1, *n))};
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Consumes a keyword (case-insensitive) followed by whitespace or the end.
bool take_keyword(std::string_view& s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (lower(s[i]) != word[i]) return false;
  if (s.size() > word.size() && !is_space(s[word.size()])) return false;
  s.remove_prefix(word.size());
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<std::string> sql_deallocate_name(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == ';')) s.remove_suffix(1);
  if (!take_keyword(s, "deallocate")) return std::nullopt;
  std::string_view rest = s;
  if (take_keyword(rest, "prepare") && !rest.empty()) s = rest;
  if (s.empty()) return std::nullopt;
  std::string name;
  if (s.front() == '"') {
    for (std::size_t i = 1; i < s.size(); ++i) {
      if (s[i] != '"') {
        name += s[i];
        continue;
      }
      if (i + 1 < s.size() && s[i + 1] == '"') {
        name += '"';
        ++i;
        continue;
      }
      if (i + 1 != s.size() || name.empty()) return std::nullopt;
      return name;
    }
    return std::nullopt;
  }
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80;
    if (!ok) return std::nullopt;
    name += lower(c);
  }
  if (name == "all" || (name[0] >= '0' && name[0] <= '9') || name[0] == '$') return std::nullopt;
  return name;
}

}  // namespace pggat::pool
