// cli/signals.hpp — Ctrl-C and SIGTERM as an ordinary callback on an ordinary thread.
//
// Construct before starting any other thread: it blocks SIGINT and SIGTERM in the calling
// thread (threads started later inherit that), and a watcher thread waits for them and calls
// `on_signal(signal_number)`, where taking locks and cancelling pipelines is safe. The
// destructor stops the watcher at once (an eventfd wakes it) and restores the signal mask.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace tendril::cli {

class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // The last signal received, or 0.
  int received() const noexcept { return received_.load(); }

 private:
  sigset_t previous_mask_{};
  int signals_ = -1;  // a signalfd for SIGINT and SIGTERM
  int wake_ = -1;     // an eventfd: written to stop the watcher
  std::atomic<int> received_{0};
  std::thread watcher_;
};

}  // namespace tendril::cli
