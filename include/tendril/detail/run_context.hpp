// tendril/detail/run_context.hpp — the shared fate of one pipeline run.
//
// Holds the run's stop source and its first fatal error. Any thread may call `fail()`: the
// first call records its error, requests stop and aborts every registered queue, so that every
// blocked worker wakes and the run ends. Abort hooks are registered before any thread starts.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <vector>

#include "tendril/error.hpp"

namespace tendril::detail {

class RunContext {
 public:
  // Before the run starts and before anyone can reach fail() (not thread-safe): something to
  // call when the run is aborted.
  void on_abort(std::function<void()> hook) { abort_hooks_.push_back(std::move(hook)); }

  // Ends the run with `error` unless it already ended. Thread-safe. Returns true for the first.
  bool fail(Error error);
  // Records that the source failed; the run drains and then reports it. Thread-safe.
  void source_failed(Error error);

  bool stopped() const noexcept { return stop_.stop_requested(); }
  std::stop_token stop_token() const noexcept { return stop_.get_token(); }

  // The error that ended the run, if any: fatal errors win over a source error.
  std::optional<Error> outcome() const;

 private:
  std::stop_source stop_;
  mutable std::mutex mutex_;
  std::optional<Error> fatal_;         // guarded by mutex_
  std::optional<Error> source_error_;  // guarded by mutex_
  std::vector<std::function<void()>> abort_hooks_;
};

}  // namespace tendril::detail
