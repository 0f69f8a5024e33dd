// Lazy, validated views over the repeated fields of a message body, and their element codecs.
#pragma once

#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "pggat/proto/bytes.hpp"
#include "pggat/proto/reader.hpp"
#include "pggat/proto/writer.hpp"

namespace pggat::proto {

// Writes a string as a NUL-terminated field, cut at its first NUL: a NUL inside
// would end the field early and let the rest be parsed as further fields.
inline void write_cstring(MessageWriter& w, std::string_view s) { w.cstring(s); }

// How one element of a list is read and written. read() returns false for a
// semantically invalid element; overruns show in the reader's ok(). min_size,
// the fewest bytes an element takes, rejects absurd counts before any loop.
template <class E>
concept ListElement = requires(BodyReader& r, MessageWriter& w, typename E::value_type& v) {
  { E::min_size } -> std::convertible_to<std::size_t>;
  { E::read(r, v) } -> std::same_as<bool>;
  E::write(w, std::as_const(v));
};

// Lists that end with a zero byte instead of a count: ends_list() tells which
// elements would be written as that byte.
template <class E>
concept TerminatedListElement = ListElement<E> && requires(const typename E::value_type& v) {
  { E::ends_list(v) } -> std::same_as<bool>;
};

struct Int16Element {
  using value_type = std::int16_t;
  static constexpr std::size_t min_size = 2;
  static bool read(BodyReader& r, value_type& v) {
    v = r.i16();
    return true;
  }
  static void write(MessageWriter& w, value_type v) { w.i16(v); }
};

struct OidElement {
  using value_type = std::uint32_t;
  static constexpr std::size_t min_size = 4;
  static bool read(BodyReader& r, value_type& v) {
    v = r.u32();
    return true;
  }
  static void write(MessageWriter& w, value_type v) { w.u32(v); }
};

// An Int32 length then that many bytes; length -1 is SQL NULL.
struct NullableBytesElement {
  using value_type = std::optional<Bytes>;
  static constexpr std::size_t min_size = 4;
  static bool read(BodyReader& r, value_type& v) {
    const std::int32_t len = r.i32();
    if (len == -1) {
      v = std::nullopt;
      return true;
    }
    if (len < -1) return false;
    v = r.bytes(static_cast<std::size_t>(len));
    return true;
  }
  static void write(MessageWriter& w, const value_type& v) {
    if (!v) {
      w.i32(-1);
      return;
    }
    assert(v->size() <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()));
    w.i32(static_cast<std::int32_t>(v->size())).bytes(*v);
  }
};

struct CStringElement {
  using value_type = std::string_view;
  static constexpr std::size_t min_size = 1;
  static bool read(BodyReader& r, value_type& v) {
    v = r.cstring();
    return true;
  }
  static void write(MessageWriter& w, value_type v) { write_cstring(w, v); }
  static bool ends_list(value_type v) { return v.empty() || v.front() == '\0'; }
};

// A list of `size()` elements whose wire bytes are `raw()`. Only the read_*
// factories make non-empty lists, and they validate every element, so
// iterating never fails and never leaves raw().
template <ListElement Element>
class WireList {
 public:
  using value_type = typename Element::value_type;

  class iterator {
   public:
    // Elements are decoded into the iterator, so dereferencing yields a value:
    // a forward iterator for ranges, an input iterator for legacy algorithms.
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = typename Element::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type;
    using pointer = void;

    iterator() = default;

    value_type operator*() const { return value_; }
    iterator& operator++() {
      if (--left_ != 0) load();
      return *this;
    }
    iterator operator++(int) {
      iterator before = *this;
      ++*this;
      return before;
    }
    // Iterators of one list differ only in how many elements they have left.
    friend bool operator==(const iterator& a, const iterator& b) { return a.left_ == b.left_; }

   private:
    friend class WireList;
    iterator(Bytes raw, std::size_t count) : reader_(raw), left_(count) {
      if (left_ != 0) load();
    }
    void load() { static_cast<void>(Element::read(reader_, value_)); }

    BodyReader reader_{Bytes{}};
    value_type value_{};
    std::size_t left_ = 0;
  };

  WireList() = default;

  // Reads `count` elements at the reader's position; nullopt if any is missing
  // or invalid (the reader is then !ok() or positioned after a bad element).
  [[nodiscard]] static std::optional<WireList> read_counted(BodyReader& r, std::size_t count) {
    if (!r.ok() || count > r.remaining() / Element::min_size) return std::nullopt;
    const Bytes rest = BodyReader(r).rest();
    const std::size_t before = rest.size();
    value_type v{};
    for (std::size_t i = 0; i < count; ++i)
      if (!Element::read(r, v) || !r.ok()) return std::nullopt;
    return WireList(rest.first(before - r.remaining()), count);
  }

  // Reads elements up to and including a terminating zero byte; raw() excludes
  // the terminator.
  [[nodiscard]] static std::optional<WireList> read_terminated(BodyReader& r) {
    const Bytes rest = BodyReader(r).rest();
    const std::size_t before = rest.size();
    std::size_t count = 0;
    value_type v{};
    while (r.ok()) {
      BodyReader probe = r;
      if (probe.u8() == 0 && probe.ok()) {
        const std::size_t used = before - r.remaining();
        r = probe;
        return WireList(rest.first(used), count);
      }
      if (!Element::read(r, v)) return std::nullopt;
      ++count;
    }
    return std::nullopt;
  }

  [[nodiscard]] iterator begin() const { return iterator(raw_, count_); }
  [[nodiscard]] iterator end() const { return iterator(); }
  [[nodiscard]] std::size_t size() const { return count_; }
  [[nodiscard]] bool empty() const { return count_ == 0; }
  // The elements as on the wire, without count or terminator.
  [[nodiscard]] Bytes raw() const { return raw_; }

 private:
  WireList(Bytes raw, std::size_t count) : raw_(raw), count_(count) {}

  Bytes raw_;
  std::size_t count_ = 0;
};

// Writers shared by the message encoders.

// An Int16 count (read as unsigned, as PostgreSQL does), then the elements.
template <ListElement Element, class Range>
void write_counted16(MessageWriter& w, const Range& elements) {
  assert(std::size(elements) <= std::numeric_limits<std::uint16_t>::max());
  w.u16(static_cast<std::uint16_t>(std::size(elements)));
  for (const auto& e : elements) Element::write(w, e);
}

template <ListElement Element>
void write_counted16(MessageWriter& w, const WireList<Element>& list) {
  w.u16(static_cast<std::uint16_t>(list.size())).bytes(list.raw());
}

// The elements, then the terminating zero byte. Elements that would read back
// as the terminator are skipped, so the message stays well-formed.
template <TerminatedListElement Element, class Range>
void write_terminated(MessageWriter& w, const Range& elements) {
  for (const auto& e : elements)
    if (!Element::ends_list(e)) Element::write(w, e);
  w.u8(0);
}

template <ListElement Element>
void write_terminated(MessageWriter& w, const WireList<Element>& list) {
  w.bytes(list.raw()).u8(0);
}

}  // namespace pggat::proto
