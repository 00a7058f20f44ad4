// File: core/error.hpp
//
// The one error type of WattOS KI. Expected failures travel as values: a function
// that can fail returns `result<T>` (or `status` when it has no value), never throws
// on the request path. Each `errc` carries a retry meaning; the mapping of codes to
// HTTP statuses lives in exactly one place, `net/http_error.hpp`.
//
// Example:
//   core::result<user> find_user(std::string_view id) {
//     if (id.empty()) return core::error::invalid_argument("id is empty");
//     ...
//   }
//   WATTOS_ASSIGN_OR_RETURN(auto u, find_user(id));
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace wattos::core {

// errc: canonical codes, after absl::StatusCode. The comment says whether a client
// may retry the same call.
enum class errc {
  ok = 0,
  invalid_argument,     // bad input; do not retry unchanged
  unauthenticated,      // no or bad credentials; retry after logging in
  permission_denied,    // authenticated but not allowed; do not retry
  not_found,            // no such resource (or not visible to the caller)
  already_exists,       // a create collided with an existing resource
  conflict,             // state changed under the caller; retry at a higher level
  failed_precondition,  // system not in the state the call needs; do not retry
  payload_too_large,    // body, upload or field over its limit
  unsupported_media,    // content type not accepted
  rate_limited,         // too many requests; retry after the advised delay
  resource_exhausted,   // a quota or budget is used up
  request_timeout,      // the client was too slow sending its request
  cancelled,            // the caller went away or cancelled
  deadline_exceeded,    // an upstream did not answer in time; may retry
  unavailable,          // transient; retry the same call with backoff
  bad_gateway,          // an upstream answered with garbage or failed
  unimplemented,        // not supported by this build or backend
  internal,             // a bug or an invariant broken; logged with the request id
};

// Stable snake_case name of a code, as used in JSON error bodies.
std::string_view errc_name(errc code) noexcept;

// error: a code plus a human-readable message (safe to show to the client).
class error {
 public:
  error(errc code, std::string message) : code_(code), message_(std::move(message)) {}

  errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  // Prefixes the message with context, e.g. "migration 3: " + message.
  error with_context(std::string_view context) const { return error(code_, std::string(context) + ": " + message_); }

  static error invalid_argument(std::string m) { return {errc::invalid_argument, std::move(m)}; }
  static error unauthenticated(std::string m) { return {errc::unauthenticated, std::move(m)}; }
  static error permission_denied(std::string m) { return {errc::permission_denied, std::move(m)}; }
  static error not_found(std::string m) { return {errc::not_found, std::move(m)}; }
  static error already_exists(std::string m) { return {errc::already_exists, std::move(m)}; }
  static error conflict(std::string m) { return {errc::conflict, std::move(m)}; }
  static error failed_precondition(std::string m) { return {errc::failed_precondition, std::move(m)}; }
  static error payload_too_large(std::string m) { return {errc::payload_too_large, std::move(m)}; }
  static error unsupported_media(std::string m) { return {errc::unsupported_media, std::move(m)}; }
  static error rate_limited(std::string m) { return {errc::rate_limited, std::move(m)}; }
  static error resource_exhausted(std::string m) { return {errc::resource_exhausted, std::move(m)}; }
  static error request_timeout(std::string m) { return {errc::request_timeout, std::move(m)}; }
  static error cancelled(std::string m) { return {errc::cancelled, std::move(m)}; }
  static error deadline_exceeded(std::string m) { return {errc::deadline_exceeded, std::move(m)}; }
  static error unavailable(std::string m) { return {errc::unavailable, std::move(m)}; }
  static error bad_gateway(std::string m) { return {errc::bad_gateway, std::move(m)}; }
  static error unimplemented(std::string m) { return {errc::unimplemented, std::move(m)}; }
  static error internal(std::string m) { return {errc::internal, std::move(m)}; }

 private:
  errc code_;
  std::string message_;
};

// result<T>: either a T or an error. `explicit` construction from nothing is not
// offered, so `return {};` cannot silently produce an error.
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(error err) : storage_(std::in_place_index<1>, std::move(err)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return storage_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(storage_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(storage_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(storage_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& err() const& {
    assert(!ok());
    return std::get<1>(storage_);
  }
  error&& err() && {
    assert(!ok());
    return std::get<1>(std::move(storage_));
  }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? std::get<0>(storage_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, error> storage_;
};

// status: result without a value.
class [[nodiscard]] status {
 public:
  status() = default;
  status(error err) : err_(std::move(err)), has_error_(true) {}  // NOLINT(google-explicit-constructor)

  static status ok_status() { return {}; }

  bool ok() const noexcept { return !has_error_; }
  explicit operator bool() const noexcept { return ok(); }
  const error& err() const& {
    assert(!ok());
    return err_;
  }
  error&& err() && {
    assert(!ok());
    return std::move(err_);
  }

 private:
  error err_{errc::ok, {}};
  bool has_error_ = false;
};

}  // namespace wattos::core

#define WATTOS_CONCAT_INNER_(a, b) a##b
#define WATTOS_CONCAT_(a, b) WATTOS_CONCAT_INNER_(a, b)

// Returns the error of a failed status or result from the enclosing function.
// (__COUNTER__ keeps names unique when one use nests inside another's lambda.)
// NOLINTBEGIN(bugprone-macro-parentheses): `tmp` and `lhs` are names being declared, which
// parentheses would turn into expressions; `expr` is parenthesised where it is used.
#define WATTOS_RETURN_IF_ERROR(expr) WATTOS_RETURN_IF_ERROR_IMPL_(WATTOS_CONCAT_(wattos_status_, __COUNTER__), expr)
#define WATTOS_RETURN_IF_ERROR_IMPL_(tmp, expr) \
  do {                                          \
    auto&& tmp = (expr);                        \
    if (!tmp.ok()) return std::move(tmp).err(); \
  } while (false)

// Declares `lhs` from a result's value, or returns its error.
#define WATTOS_ASSIGN_OR_RETURN(lhs, expr) \
  WATTOS_ASSIGN_OR_RETURN_IMPL_(WATTOS_CONCAT_(wattos_result_, __COUNTER__), lhs, expr)
#define WATTOS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).err();         \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
