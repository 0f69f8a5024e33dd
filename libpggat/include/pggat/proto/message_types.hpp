// The protocol 3.0 message types of each direction, as constexpr tables.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace pggat::proto {

enum class Direction : std::uint8_t { frontend, backend };

// PostgreSQL's own caps (pqcomm.h): startup packets, and messages that have no
// reason to be large.
inline constexpr std::uint32_t max_startup_packet_length = 10000;
inline constexpr std::uint32_t small_message_limit = 10000;
inline constexpr std::uint32_t auth_message_limit = 65535;  // PG_MAX_AUTH_TOKEN_LENGTH
// Default cap on everything else (PostgreSQL: PQ_LARGE_MESSAGE_LIMIT, 1 GiB - 1).
inline constexpr std::uint32_t default_max_message_length = 0x3fffffff;

struct MessageKind {
  std::string_view name;        // empty: not a message of this direction
  std::uint32_t max_length = 0;  // cap on the length field; 0 means the configured maximum
  [[nodiscard]] constexpr bool known() const { return !name.empty(); }
};

using MessageTable = std::array<MessageKind, 256>;

namespace detail {
constexpr MessageTable make_frontend_table() {
  MessageTable t{};
  auto set = [&t](char c, std::string_view name, std::uint32_t max) {
    t[static_cast<unsigned char>(c)] = MessageKind{name, max};
  };
  set('B', "Bind", 0);
  set('C', "Close", small_message_limit);
  set('d', "CopyData", 0);
  set('c', "CopyDone", small_message_limit);
  set('f', "CopyFail", small_message_limit);
  set('D', "Describe", small_message_limit);
  set('E', "Execute", small_message_limit);
  set('H', "Flush", small_message_limit);
  set('F', "FunctionCall", 0);
  set('p', "PasswordMessage", auth_message_limit);  // also SASL and GSS responses
  set('P', "Parse", 0);
  set('Q', "Query", 0);
  set('S', "Sync", small_message_limit);
  set('X', "Terminate", small_message_limit);
  return t;
}
constexpr MessageTable make_backend_table() {
  MessageTable t{};
  auto set = [&t](char c, std::string_view name) {
    t[static_cast<unsigned char>(c)] = MessageKind{name, 0};
  };
  set('R', "Authentication");
  set('K', "BackendKeyData");
  set('2', "BindComplete");
  set('3', "CloseComplete");
  set('C', "CommandComplete");
  set('d', "CopyData");
  set('c', "CopyDone");
  set('G', "CopyInResponse");
  set('H', "CopyOutResponse");
  set('W', "CopyBothResponse");
  set('D', "DataRow");
  set('I', "EmptyQueryResponse");
  set('E', "ErrorResponse");
  set('V', "FunctionCallResponse");
  set('v', "NegotiateProtocolVersion");
  set('n', "NoData");
  set('N', "NoticeResponse");
  set('A', "NotificationResponse");
  set('t', "ParameterDescription");
  set('S', "ParameterStatus");
  set('1', "ParseComplete");
  set('s', "PortalSuspended");
  set('Z', "ReadyForQuery");
  set('T', "RowDescription");
  return t;
}
}  // namespace detail

inline constexpr MessageTable frontend_messages = detail::make_frontend_table();
inline constexpr MessageTable backend_messages = detail::make_backend_table();

constexpr const MessageTable& messages_of(Direction d) {
  return d == Direction::frontend ? frontend_messages : backend_messages;
}
constexpr const MessageKind& message_kind(Direction d, char type) {
  return messages_of(d)[static_cast<unsigned char>(type)];
}

// A set of type bytes: which messages are acceptable in a protocol state.
class TypeSet {
 public:
  constexpr TypeSet() = default;
  constexpr TypeSet(std::initializer_list<char> types) {
    for (char c : types) add(c);
  }
  static constexpr TypeSet all_of(const MessageTable& table) {
    TypeSet s;
    for (unsigned i = 0; i < table.size(); ++i)
      if (table[i].known()) s.add(static_cast<char>(i));
    return s;
  }
  constexpr void add(char c) {
    const auto u = static_cast<unsigned char>(c);
    bits_[u / 64] |= std::uint64_t{1} << (u % 64);
  }
  [[nodiscard]] constexpr bool contains(char c) const {
    const auto u = static_cast<unsigned char>(c);
    return (bits_[u / 64] >> (u % 64)) & 1U;
  }

 private:
  std::array<std::uint64_t, 4> bits_{};
};

// What each side may send in each phase of a connection.
namespace states {
// Client, during authentication: password, SASL and GSS responses only.
inline constexpr TypeSet frontend_authenticating{'p'};
// Client, once ready. CopyData/CopyDone/CopyFail are allowed outside COPY too:
// PostgreSQL ignores them there, as the protocol requires.
inline constexpr TypeSet frontend_ready{'Q', 'P', 'B', 'E', 'D', 'C', 'S',
                                        'H', 'F', 'X', 'd', 'c', 'f'};
// Server, before its first ReadyForQuery.
inline constexpr TypeSet backend_startup{'R', 'E', 'N', 'S', 'K', 'Z', 'v'};
// Server, after startup: anything of protocol 3.0.
inline constexpr TypeSet backend_ready = TypeSet::all_of(backend_messages);
}  // namespace states

}  // namespace pggat::proto
