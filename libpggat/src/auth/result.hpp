// Outcomes of auth steps as values: success, a value, or a Failure with a reason.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include "pggat/error.hpp"

namespace pggat::auth {

// Why an auth step failed. `code` lets the frontend pick the SQLSTATE (protocol_violation
// → 08P01, auth_failed → 28P01); `message` is meant for logs and the ErrorResponse detail.
struct Failure {
  std::error_code code;
  std::string message;
};

inline Failure protocol_failure(std::string message) {
  return {make_error_code(errc::protocol_violation), std::move(message)};
}

inline Failure auth_failure(std::string message) {
  return {make_error_code(errc::auth_failed), std::move(message)};
}

// The outcome of a step that yields nothing on success.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Failure failure) : failure_(std::move(failure)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  // Only meaningful when !ok().
  const Failure& error() const { return failure_; }

 private:
  Failure failure_;
  bool failed_ = false;
};

// A value or the Failure that prevented it (std::expected is C++23).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Failure failure) : state_(std::in_place_index<1>, std::move(failure)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Value accessors require ok().
  T& operator*() & { return std::get<0>(state_); }
  const T& operator*() const& { return std::get<0>(state_); }
  T&& operator*() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &std::get<0>(state_); }
  const T* operator->() const { return &std::get<0>(state_); }

  // Requires !ok().
  const Failure& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Failure> state_;
};

}  // namespace pggat::auth
