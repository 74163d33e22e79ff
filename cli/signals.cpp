#include "signals.hpp"

#include <pthread.h>

#include <ctime>

namespace tendril::cli {

namespace {
sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal) {
  const sigset_t set = watched_signals();
  // A shell starts background jobs with SIGINT ignored, and an ignored signal is discarded
  // before sigtimedwait can see it: take the default back (it is blocked, so it cannot kill).
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  pthread_sigmask(SIG_BLOCK, &set, &previous_mask_);
  watcher_ = std::thread([this, set, on_signal = std::move(on_signal)] {
    const timespec tick{0, 100'000'000};  // look at stop_ ten times a second
    while (!stop_) {
      const int signal_number = sigtimedwait(&set, nullptr, &tick);
      if (signal_number > 0) {
        received_ = signal_number;
        on_signal(signal_number);
      }
    }
  });
}

SignalWatcher::~SignalWatcher() {
  stop_ = true;
  watcher_.join();
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

}  // namespace tendril::cli
