// tendril/core/error.hpp — the one error model of Tendril, for every face.
//
// - Building something wrongly (a stage with buffer 0, a routine with two slots of one name, a
//   Runtime with no threads, a policy of 0 items) throws `UsageError` (a std::invalid_argument)
//   naming what is wrong. It is a programming error, found the first time the code runs.
// - Running returns `Result<T>` = `std::expected<T, Error>`: a result cannot be read without
//   saying what happens to the error. Nothing that runs throws to its caller.
// - A handler's or a routine's failure is an `Error`: an exception it throws becomes one at its
//   boundary (`KillSwitch` as kind `kill_switch`, which stops the pipeline run or the flow
//   worker; anything else as kind `handler`). Jobs, hooks and metrics carry that `Error`.
// - Redis failures are `Error`s too (kinds `connection` and `refused`), and every `Error` says
//   whether another attempt can help: `retryable()`. One `RetryPolicy` (tendril/core/retry.hpp)
//   says how many attempts and how long between them, for stages, flows and the publisher.
//
// `Error` is a plain value: copyable, thread-safe to read from several threads, no hidden
// state.
#pragma once

#include <exception>
#include <expected>
#include <stdexcept>
#include <string>
#include <utility>

namespace tendril {

// What kind of failure an `Error` records; it decides what a pipeline does with it.
enum class ErrorKind {
  handler,      // a handler threw or returned an error (retried, then handled by the error policy)
  source,       // the pipeline's source threw; items before it are still processed
  cancelled,    // cancel(reason) was called, or an iteration was abandoned
  kill_switch,  // a handler asked to stop the whole pipeline (the seed's KillSwitch)
  usage,        // the pipeline was used wrongly (e.g. a single-pass source run twice)
  invalid,      // bad input: a malformed flow file, a bad argument or value
  not_found,    // an unknown flow, worker, routine, slot or event
  queue_full,   // a bounded slot or queue had no room
  stopped,      // the worker or runtime no longer takes work
  connection,   // a server could not be reached, or the connection failed or timed out
  refused,      // a server refused the request (a wrong password, an error reply)
};

// Short lowercase name of a kind, e.g. "kill_switch".
const char* to_string(ErrorKind kind) noexcept;

struct Error {
  ErrorKind kind = ErrorKind::handler;
  std::string message = {};
  std::string stage = {};    // the pipeline stage where it arose; empty elsewhere
  std::string routine = {};  // the flow routine where it arose; empty elsewhere
  int attempts = 0;          // how many attempts were made before giving up (handler errors)

  // One line for people: "stage 'parse' failed after 3 attempts: bad digit".
  std::string describe() const;
  // Whether another attempt may succeed: a handler's failure, a failed connection or a full
  // queue may; a kill switch, a cancel, bad input or a refused request never will.
  bool retryable() const noexcept;
};

// What building something wrongly throws: its error(), kind `usage`, says what is wrong.
class UsageError : public std::invalid_argument {
 public:
  explicit UsageError(std::string message);
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

template <class T>
using Result = std::expected<T, Error>;

// A handler returns `tendril::Err("why")` to fail an attempt without throwing.
inline std::unexpected<Error> Err(std::string message) {
  return std::unexpected(Error{.kind = ErrorKind::handler, .message = std::move(message)});
}

// A handler returns `tendril::kill_switch("why")` (or throws `KillSwitch`) to stop the whole
// pipeline: no retry, `run()` returns this error after the workers have stopped.
inline std::unexpected<Error> kill_switch(std::string reason) {
  return std::unexpected(Error{.kind = ErrorKind::kill_switch, .message = std::move(reason)});
}

class KillSwitch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// An exception, as an error: KillSwitch as kill_switch, anything else as a handler error.
Error error_from(std::exception_ptr exception);
}  // namespace detail

// The seed's helpers, for readers coming from it.
template <class T>
bool is_ok(const Result<T>& r) noexcept {
  return r.has_value();
}
template <class T>
bool is_err(const Result<T>& r) noexcept {
  return !r.has_value();
}
// The value, or throws std::runtime_error("unwrap on Err: <description>").
template <class T>
T unwrap(Result<T> r) {
  if (!r) throw std::runtime_error("unwrap on Err: " + r.error().describe());
  return std::move(*r);
}
template <class T, class U>
T unwrap_or(Result<T> r, U&& fallback) {
  return r ? std::move(*r) : T(std::forward<U>(fallback));
}

}  // namespace tendril
