// tendril/pipeline/detail/reorderer.hpp — passes a stage's items on in input order.
//
// Items arrive numbered (0, 1, 2, ...) in any order; they leave in number order, each exactly
// once, through a single emitter at a time. A deliverer whose number is `window` or more ahead
// of the next one waits; the holder of the next number never waits, so the window cannot
// deadlock. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include "tendril/core/scheduler.hpp"
#include "tendril/pipeline/detail/channel.hpp"

namespace tendril::detail {

template <class Out>
class Reorderer {
 public:
  explicit Reorderer(std::size_t window) : window_(window) {}

  // `item` empty: number `seq` was dropped. The caller's `lease` is released by the caller.
  void deliver(std::uint64_t seq, std::optional<Envelope<Out>>&& item, Inlet<Out>& downstream,
               Scheduler& scheduler) {
    std::unique_lock lock(mutex_);
    while (seq >= next_ + window_ && !aborted_) {
      lock.unlock();
      scheduler.before_blocking();
      lock.lock();
      if (seq >= next_ + window_ && !aborted_) room_.wait_for(lock, std::chrono::milliseconds(1));
    }
    if (aborted_) return;
    waiting_.emplace(seq, std::move(item));
    if (emitting_) return;  // the emitter will pass it on
    emitting_ = true;
    for (auto it = waiting_.find(next_); it != waiting_.end() && !aborted_;
         it = waiting_.find(next_)) {
      std::optional<Envelope<Out>> ready = std::move(it->second);
      waiting_.erase(it);
      ++next_;
      lock.unlock();
      room_.notify_all();
      if (ready) {
        Lease none;
        downstream.accept(std::move(*ready), none);
      }
      lock.lock();
    }
    emitting_ = false;
  }

  void abort() {
    {
      std::lock_guard lock(mutex_);
      aborted_ = true;
      waiting_.clear();
    }
    room_.notify_all();
  }

 private:
  const std::size_t window_;
  std::mutex mutex_;
  std::condition_variable room_;
  std::map<std::uint64_t, std::optional<Envelope<Out>>> waiting_;  // guarded by mutex_
  std::uint64_t next_ = 0;                                         // guarded by mutex_
  bool emitting_ = false;                                          // guarded by mutex_
  bool aborted_ = false;                                           // guarded by mutex_
};

}  // namespace tendril::detail
