// tendril/pipeline/detail/run_context.hpp — the shared fate of one pipeline run.
//
// Holds the run's stop source and its first fatal error. Any thread may call `fail()`: the
// first call records its error, requests stop and aborts every registered queue, so that every
// blocked worker wakes and the run ends. Abort hooks are registered before any thread starts.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <vector>

#include "tendril/core/error.hpp"

namespace tendril::detail {

// A run's event loop, made on first use by a coroutine stage while the run is built.
class EventLoop {
 public:
  virtual ~EventLoop() = default;
  virtual void start() = 0;   // with the run
  virtual void finish() = 0;  // after the run's threads ended: waits for every coroutine
};

class RunContext {
 public:
  // While the run is built (not thread-safe): the run's event loop, made on first call.
  template <class Loop>
  Loop& event_loop() {
    if (!loop_) loop_ = std::make_unique<Loop>();
    return static_cast<Loop&>(*loop_);
  }
  EventLoop* loop() const noexcept { return loop_.get(); }

  // Before the run starts and before anyone can reach fail() (not thread-safe): something to
  // call when the run is aborted.
  void on_abort(std::function<void()> hook) { abort_hooks_.push_back(std::move(hook)); }

  // Ends the run with `error` unless it already ended. Thread-safe. Returns true for the first.
  bool fail(Error error);
  // Records that the source failed; the run drains and then reports it. Thread-safe.
  void source_failed(Error error);

  // Whether the run was stopped: one relaxed load (the source asks before every item).
  bool stopped() const noexcept { return stopped_.load(std::memory_order_relaxed); }
  std::stop_token stop_token() const noexcept { return stop_.get_token(); }

  // The error that ended the run, if any: fatal errors win over a source error.
  std::optional<Error> outcome() const;

 private:
  std::stop_source stop_;
  std::atomic<bool> stopped_{false};  // set just before stop_ is requested
  mutable std::mutex mutex_;
  std::optional<Error> fatal_;         // guarded by mutex_
  std::optional<Error> source_error_;  // guarded by mutex_
  std::vector<std::function<void()>> abort_hooks_;
  std::unique_ptr<EventLoop> loop_;
};

}  // namespace tendril::detail
