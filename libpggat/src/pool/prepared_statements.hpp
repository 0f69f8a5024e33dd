// Protocol-level prepared statements under transaction pooling: which statements
// a client has, which a server holds, and how messages are renamed between them.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pggat/proto/bytes.hpp"

namespace pggat::pool {

// A statement as the server sees it: the Parse body after the name (query text,
// parameter types), and the name pggat prepares it under. Interned per pool, so
// equal statements share one object and servers can compare by pointer.
struct StatementDef {
  std::string server_name;  // "pggat_" + hash; unique among live definitions
  proto::Buffer parse_tail;  // query\0 int16 n, n * oid
};
using StatementRef = std::shared_ptr<const StatementDef>;

// Hands out one StatementDef per distinct (query, types) in a pool.
class StatementRegistry {
 public:
  [[nodiscard]] StatementRef intern(proto::Bytes parse_tail);
  [[nodiscard]] std::size_t size();

 private:
  std::mutex mu_;
  // By server name; entries expire when no client or server uses them.
  std::unordered_map<std::string, std::weak_ptr<const StatementDef>> by_name_;
};

// A client's named statement: its own name and what it stands for.
struct ClientStatement {
  std::string name;
  StatementRef def;
};

// The statements one client has prepared, by the client's names.
class ClientStatements {
 public:
  [[nodiscard]] std::shared_ptr<const ClientStatement> find(std::string_view name) const;
  void add(std::shared_ptr<const ClientStatement> statement);
  void erase(std::string_view name);
  // Erases `name` only while it still stands for `statement` (a failed Parse
  // must not undo a later, successful one).
  void erase_if_same(const std::shared_ptr<const ClientStatement>& statement);
  void clear() { by_name_.reset(); }
  [[nodiscard]] std::size_t size() const { return by_name_ ? by_name_->size() : 0; }

  ClientStatements() = default;
  ClientStatements(const ClientStatements& other)
      : by_name_(other.by_name_ ? std::make_unique<Map>(*other.by_name_) : nullptr) {}
  ClientStatements& operator=(const ClientStatements& other) {
    if (this != &other) by_name_ = other.by_name_ ? std::make_unique<Map>(*other.by_name_) : nullptr;
    return *this;
  }
  ClientStatements(ClientStatements&&) noexcept = default;
  ClientStatements& operator=(ClientStatements&&) noexcept = default;
  ~ClientStatements() = default;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::shared_ptr<const ClientStatement>, Hash, std::equal_to<>>;
  // Made at the first statement: most clients of a transaction pool have
  // none, and an empty map is 56 bytes kept per client.
  std::unique_ptr<Map> by_name_;
};

// The statements one server holds, least recently used first out. Capacity 0
// means unbounded.
class ServerStatements {
 public:
  explicit ServerStatements(std::size_t capacity = 0) : capacity_(capacity) {}
  void set_capacity(std::size_t capacity) { capacity_ = capacity; }

  // True when the server holds `def`; marks it most recently used.
  bool touch(const StatementDef* def);
  // Records that the server now holds `def`. Returns the statement evicted to
  // make room (the caller closes it on the server), if any.
  std::optional<StatementRef> insert(StatementRef def);
  // The server no longer holds (or may not hold) `def`.
  void erase(const StatementDef* def);
  void clear();
  [[nodiscard]] std::size_t size() const { return index_.size(); }

 private:
  std::size_t capacity_;
  std::list<StatementRef> order_;  // front: most recently used
  std::unordered_map<const StatementDef*, std::list<StatementRef>::iterator> index_;
};

// Message surgery: the same message with the statement name replaced. Appends
// the whole message (type and length included) to `out`.
void append_renamed_parse(proto::Buffer& out, std::string_view new_name, proto::Bytes parse_tail);
void append_renamed_bind(proto::Buffer& out, proto::Bytes bind_body, std::size_t name_offset,
                         std::size_t name_length, std::string_view new_name);
void append_close_statement(proto::Buffer& out, std::string_view name);
void append_describe_statement(proto::Buffer& out, std::string_view name);

// Field views of the messages the relay renames, without a full decode.
struct NamedMessage {
  std::string_view name;      // the statement name
  std::size_t name_offset = 0;  // where it starts in the body
};
// Parse: name first. Bind: portal, then statement. nullopt when malformed.
[[nodiscard]] std::optional<NamedMessage> parse_statement_name(proto::Bytes body);
[[nodiscard]] std::optional<NamedMessage> bind_statement_name(proto::Bytes body);
// Describe/Close: a target byte ('S' or 'P') and a name.
struct TargetedName {
  char target = 0;
  std::string_view name;
};
[[nodiscard]] std::optional<TargetedName> targeted_name(proto::Bytes body);

// The statement name of a query that is exactly `DEALLOCATE [PREPARE] name`
// (a trailing semicolon and whitespace allowed; unquoted names fold to lower
// case, quoted ones are taken as written). nullopt for anything else,
// `DEALLOCATE ALL` included.
[[nodiscard]] std::optional<std::string> sql_deallocate_name(std::string_view query);

}  // namespace pggat::pool
