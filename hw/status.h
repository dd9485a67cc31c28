// Errors a user can cause (bad image, bad option, impossible size) travel as
// values; the CLI turns them into one line on stderr and exit status 2.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace tandem {

class Status {
 public:
  Status() = default;
  static Status Error(std::string message) { return Status(std::move(message)); }
  bool ok() const { return !message_.has_value(); }
  // The error's message; empty for an ok status.
  const std::string& message() const {
    static const std::string kNone;
    return message_ ? *message_ : kNone;
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

// A value or an error message.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  // An error. An ok Status carries no value, so it becomes an error that
  // says so rather than a Result that is neither.
  Result(Status error)
      : v_(error.ok() ? Status::Error("internal error: a Result made from an ok Status") : std::move(error)) {}
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const std::string& message() const { return std::get<1>(v_).message(); }
  Status status() const { return ok() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tandem
