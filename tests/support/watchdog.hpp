// tests/support/watchdog.hpp — ends a hung concurrency test with a message instead of a CI timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace tendril::testing {

// Aborts the process, printing `what` and `describe_state()`, unless destroyed within `limit`.
class Watchdog {
 public:
  Watchdog(std::chrono::milliseconds limit, std::string what,
           std::function<std::string()> describe_state = {})
      : thread_([this, limit, what = std::move(what), describe = std::move(describe_state)] {
          std::unique_lock lock(mutex_);
          if (!done_cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "WATCHDOG: '%s' still running after %lld ms; state: %s\n",
                         what.c_str(), static_cast<long long>(limit.count()),
                         describe ? describe().c_str() : "(none)");
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace tendril::testing
