// RingBuffer: a FIFO that stops allocating once it has grown to the pipeline's depth.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace pggat::proto {

template <typename T>
class RingBuffer {
 public:
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] T& front() { return slots_[head_]; }
  [[nodiscard]] const T& front() const { return slots_[head_]; }
  // The i-th entry from the front.
  [[nodiscard]] T& operator[](std::size_t i) { return slots_[index(i)]; }
  [[nodiscard]] const T& operator[](std::size_t i) const { return slots_[index(i)]; }

  void push(T e) {
    if (size_ == slots_.size()) grow();
    slots_[index(size_)] = std::move(e);
    ++size_;
  }
  T pop() {
    T e = std::move(slots_[head_]);
    slots_[head_] = T{};
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
    return e;
  }
  // Empties the buffer and keeps its memory.
  void clear() {
    for (std::size_t i = 0; i < size_; ++i) slots_[index(i)] = T{};
    head_ = 0;
    size_ = 0;
  }
  // Removes the entries behind the front for which `drop` says so, keeping the order.
  template <typename Pred>
  void erase_behind_front_if(Pred drop) {
    std::size_t kept = size_ == 0 ? 0 : 1;
    for (std::size_t i = kept; i < size_; ++i) {
      T& e = slots_[index(i)];
      if (drop(std::as_const(e))) continue;
      if (kept != i) slots_[index(kept)] = std::move(e);
      ++kept;
    }
    for (std::size_t i = kept; i < size_; ++i) slots_[index(i)] = T{};
    size_ = kept;
  }

 private:
  [[nodiscard]] std::size_t index(std::size_t i) const { return (head_ + i) & (slots_.size() - 1); }
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 16 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(slots_[index(i)]);
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;  // size is a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace pggat::proto
