// tendril/core/bounded_queue.hpp — the one bounded blocking queue of Tendril.
//
// Any number of producers and consumers; every method is thread-safe. The vocabulary is
// oneTBB's: push / try_push block or fail when full, pop / try_pop block or fail when empty.
//
// Ending: `close()` admits no more pushes and lets consumers drain what is queued; `abort()`
// also drops what is queued. Both wake every waiter, so no thread stays blocked on a queue
// that is done.
//
// Deadlock: a thread blocked in push() waits for a consumer to pop. A cycle of stages in which
// every member pushes into the next one's full queue deadlocks; pipelines are acyclic chains
// whose last consumer never blocks on them, so every push eventually completes.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "tendril/core/error.hpp"

namespace tendril {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {
    if (capacity == 0) throw UsageError("BoundedQueue: capacity must be at least 1");
  }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Blocks while full. Returns false (and drops `item`) when the queue is closed or aborted.
  bool push(T item) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    if (closed_) return false;
    enqueue(std::move(item));
    lock.unlock();
    not_empty_.notify_one();
    return true;
  }

  // Never blocks. Returns false when full, closed or aborted; `item` is then left untouched.
  bool try_push(T& item) {
    {
      std::lock_guard lock(mutex_);
      if (closed_ || items_.size() >= capacity_) return false;
      enqueue(std::move(item));
    }
    not_empty_.notify_one();
    return true;
  }

  // Blocks while empty and open. Returns nullopt once the queue is closed and drained, or
  // aborted. When `ticket` is given it receives the item's 0-based position in push order.
  std::optional<T> pop(std::uint64_t* ticket = nullptr) {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty() || aborted_) return std::nullopt;
    return dequeue(lock, ticket);
  }

  // As pop(), waiting at most `timeout`; nullopt with `timed_out` set when nothing came in time.
  template <class Rep, class Period>
  std::optional<T> pop_for(std::chrono::duration<Rep, Period> timeout, bool& timed_out) {
    std::unique_lock lock(mutex_);
    timed_out = !not_empty_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
    if (timed_out || items_.empty() || aborted_) return std::nullopt;
    return dequeue(lock, nullptr);
  }

  // Never blocks: nullopt when empty, closed and drained, or aborted.
  std::optional<T> try_pop(std::uint64_t* ticket = nullptr) {
    std::unique_lock lock(mutex_);
    if (items_.empty() || aborted_) return std::nullopt;
    return dequeue(lock, ticket);
  }

  // No more pushes; consumers drain what is queued, then get nullopt.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  // No more pushes, and what is queued is dropped.
  void abort() {
    std::deque<T> dropped;
    {
      std::lock_guard lock(mutex_);
      closed_ = aborted_ = true;
      dropped.swap(items_);
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  std::size_t capacity() const noexcept { return capacity_; }
  // The most items ever queued at once.
  std::size_t high_water() const {
    std::lock_guard lock(mutex_);
    return high_water_;
  }

 private:
  void enqueue(T&& item) {
    items_.push_back(std::move(item));
    high_water_ = std::max(high_water_, items_.size());
  }
  std::optional<T> dequeue(std::unique_lock<std::mutex>& lock, std::uint64_t* ticket) {
    std::optional<T> item(std::move(items_.front()));
    items_.pop_front();
    if (ticket) *ticket = popped_;
    ++popped_;
    lock.unlock();
    not_full_.notify_one();
    return item;
  }

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> items_;         // guarded by mutex_
  std::size_t high_water_ = 0;  // guarded by mutex_
  std::uint64_t popped_ = 0;    // guarded by mutex_
  bool closed_ = false;         // guarded by mutex_
  bool aborted_ = false;        // guarded by mutex_
};

}  // namespace tendril
