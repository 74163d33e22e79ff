// src/flow/timer_queue.hpp — entries that become due at a time, fired by one thread. Internal.
//
// The runtime's one timer thread: `time_interval` policies that must look again later, and
// retries waiting out their delay. Time comes from a Clock, so tests run it on a ManualClock.
// `fire` runs on the timer thread, without the queue's lock. Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "tendril/core/clock.hpp"

namespace tendril::detail {

template <class Entry>
class TimerQueue {
 public:
  using Fire = std::function<void(Entry)>;

  TimerQueue(Clock& clock, Fire fire) : clock_(clock), fire_(std::move(fire)) {
    thread_ = std::thread([this] { run(); });
  }
  ~TimerQueue() { stop(); }
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  Clock& clock() const noexcept { return clock_; }

  void add(Clock::time_point due, Entry entry) {
    {
      std::lock_guard lock(mutex_);
      entries_.emplace(due, std::move(entry));
    }
    wake_.notify_one();
  }

  // Everything not yet fired, taken out (they will never fire).
  std::vector<Entry> take_all() {
    std::multimap<Clock::time_point, Entry> taken;
    {
      std::lock_guard lock(mutex_);
      taken.swap(entries_);
    }
    std::vector<Entry> out;
    for (auto& [due, entry] : taken) out.push_back(std::move(entry));
    return out;
  }

  bool empty() const {
    std::lock_guard lock(mutex_);
    return entries_.empty();
  }

  // Ends the timer thread (entries left are not fired). Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (entries_.empty()) {
        wake_.wait(lock);
        continue;
      }
      const auto due = entries_.begin()->first;
      if (clock_.now() < due) {
        clock_.wait_until(wake_, lock, due);
        continue;
      }
      Entry entry = std::move(entries_.begin()->second);
      entries_.erase(entries_.begin());
      lock.unlock();
      fire_(std::move(entry));
      lock.lock();
    }
  }

  Clock& clock_;
  const Fire fire_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<Clock::time_point, Entry> entries_;  // guarded by mutex_
  bool stopping_ = false;                            // guarded by mutex_
  std::thread thread_;
};

}  // namespace tendril::detail
