// src/flow/ready_queue.hpp — routines with work, waiting for a pool thread. Internal.
//
// An entry is a routine to look at (its policy decides under the cell's lock) or a parked
// retry to run again. `epoch` advances with every entry pushed or taken, so a reader can tell
// that nothing happened between two looks. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include "activation.hpp"

namespace tendril::detail {

struct ReadyTask {
  RoutineCell* cell = nullptr;             // look at this routine
  std::unique_ptr<Activation> retry = {};  // or run this parked activation again
};

class ReadyQueue {
 public:
  void push(ReadyTask task) {
    epoch_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
    size_.store(tasks_.size(), std::memory_order_relaxed);
  }

  // The oldest task; the taker counts as dispatching until it calls done_dispatching().
  // Looks at the lock-free size first, so that idle threads polling an empty queue never take
  // the lock a poster needs (a push made before a seq_cst fence that pairs with one of the
  // poller's is seen: Scheduler::before_blocking and look_for_work).
  std::optional<ReadyTask> take() {
    if (size_.load(std::memory_order_relaxed) == 0) return std::nullopt;
    {
      std::lock_guard lock(mutex_);
      if (tasks_.empty()) return std::nullopt;
      ReadyTask task = std::move(tasks_.front());
      tasks_.pop_front();
      size_.store(tasks_.size(), std::memory_order_relaxed);
      dispatching_.fetch_add(1);
      epoch_.fetch_add(1, std::memory_order_relaxed);
      return task;
    }
  }
  void done_dispatching() noexcept { dispatching_.fetch_sub(1); }

  // Lock-free hint.
  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  bool empty() const {
    std::lock_guard lock(mutex_);
    return tasks_.empty();
  }
  std::size_t dispatching() const noexcept { return dispatching_.load(); }
  std::uint64_t epoch() const noexcept { return epoch_.load(); }

 private:
  mutable std::mutex mutex_;
  std::deque<ReadyTask> tasks_;  // guarded by mutex_
  std::atomic<std::size_t> size_{0};
  std::atomic<std::size_t> dispatching_{0};  // threads between taking a task and finishing it
  std::atomic<std::uint64_t> epoch_{0};
};

}  // namespace tendril::detail
