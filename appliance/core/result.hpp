// Result types for fallible operations on untrusted input or the environment.
// Broken invariants still throw; see docs/architecture.md.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace airheal {

enum class Errc {
  invalid_argument,  // malformed input from a client or a file
  not_found,
  digest_invalid,  // digest does not match content, or is malformed
  size_invalid,
  range_invalid,
  too_large,
  blob_unknown,
  blob_upload_unknown,
  blob_upload_invalid,
  manifest_unknown,
  manifest_invalid,
  manifest_blob_unknown,
  name_invalid,
  name_unknown,
  tag_invalid,
  unsupported,
  denied,
  unauthorized,
  conflict,
  io_error,
};

const char* to_string(Errc code);

struct Error {
  Errc code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  template <class U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : T(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void>.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_{Errc::invalid_argument, {}};
  bool ok_ = true;
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace airheal
