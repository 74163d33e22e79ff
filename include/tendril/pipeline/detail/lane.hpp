// tendril/pipeline/detail/lane.hpp — a bounded queue of items and the worker seats that serve it.
//
// The one admission protocol of every stage: an arriving item runs at once when a seat is
// free and nothing is queued before it; otherwise it takes a free seat and the oldest queued
// item runs instead; otherwise it is queued; and only when the queue is full and every seat busy
// does the arriving thread wait (backpressure). The producer's lease is released once the item
// is inside, never before. Every method is thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

#include "tendril/core/scheduler.hpp"
#include "tendril/pipeline/detail/channel.hpp"
#include "tendril/pipeline/detail/seat_pool.hpp"

namespace tendril::detail {

template <class In>
class Lane final : public SeatOwner {
 public:
  Lane(std::size_t capacity, std::size_t seats) : capacity_(capacity), seats_(seats) {}

  // Before the run starts: the run's count of queued items and its scheduler.
  void bind(Scheduler& scheduler) {
    scheduler_ = &scheduler;
    queued_items_ = &scheduler.queued_items();
  }

  // Admits `item` (see above) and calls run(seat, item) on this thread when it runs at once.
  // With `number`, items are numbered in the order they take a seat (for ordered stages), and
  // the lock-free fast path, which does not number, is not taken.
  template <class Run>
  void accept(Envelope<In>&& item, Lease& upstream, bool number, Run&& run) {
    std::uint32_t seat;
    if (!number && size_.load(std::memory_order_acquire) == 0 && seats_.try_acquire(seat))
        [[likely]] {
      upstream.release();  // the item is ours now: the upstream worker may take its next one
      return run(seat, std::move(item));
    }
    if (admit_locked(item, upstream, number, seat)) run(seat, std::move(item));
  }

  // accept()'s quickest case alone, for callers that run the item themselves: nothing queued
  // and a seat taken with no call and no locked instruction. False means only "use accept()".
  bool try_seat_inline(std::uint32_t& seat) noexcept {
    return size_.load(std::memory_order_acquire) == 0 && seats_.try_acquire_inline(seat);
  }

  // Queues `item` without taking a seat, waiting while the queue is full (fork dispatch).
  // False when the run was aborted.
  bool enqueue(Envelope<In>&& item) {
    std::unique_lock lock(mutex_);
    for (unsigned waits = 0; !aborted_ && queue_.size() >= capacity_; ++waits)
      wait_for_room(lock, waits);
    if (aborted_) return false;
    push(std::move(item));
    return true;
  }

  // For a thread looking for work: a queued item and a free seat for it, or false.
  bool take(std::uint32_t& seat, Envelope<In>& item, bool number) {
    if (size_.load(std::memory_order_relaxed) == 0 || !seats_.any_free()) return false;
    std::unique_lock lock(mutex_);
    if (queue_.empty() || aborted_ || !seats_.try_acquire(seat)) return false;
    item = std::move(queue_.front());
    queue_.pop_front();
    size_.store(queue_.size(), std::memory_order_relaxed);
    queued_items_->fetch_sub(1, std::memory_order_relaxed);
    if (number) item.seq = next_ticket_++;
    const bool wake = room_waiters_ > 0;
    lock.unlock();
    if (wake) room_.notify_all();
    return true;
  }

  // Waiters for room are not woken here: the thread that let the seat go looks at this lane
  // next and pops it, which wakes them; a wake-up here would sit on every item's critical path.
  void release_seat(std::uint32_t seat) override { seats_.release(seat); }

  void abort() {
    std::deque<Envelope<In>> dropped;
    {
      std::lock_guard lock(mutex_);
      aborted_ = true;
      dropped.swap(queue_);
      size_.store(0, std::memory_order_release);
      if (queued_items_) queued_items_->fetch_sub(dropped.size(), std::memory_order_relaxed);
    }
    room_.notify_all();
  }

  // Lock-free hints.
  bool empty() const { return size_.load(std::memory_order_acquire) == 0; }
  bool has_free_seat() const { return seats_.any_free(); }
  bool has_room() const { return size_.load(std::memory_order_relaxed) < capacity_; }
  bool runnable() const { return !empty() && has_free_seat(); }

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t high_water() const {
    std::lock_guard lock(mutex_);
    return high_water_;
  }

 private:
  // accept() under the lock: true when `item` (perhaps swapped for the oldest queued one) is
  // to run now on `seat`, false when it was queued or the run was aborted. Out of line, so
  // that the lock-free path stays small enough to inline.
  [[gnu::noinline]] bool admit_locked(Envelope<In>& item, Lease& upstream, bool number,
                                      std::uint32_t& seat) {
    std::unique_lock lock(mutex_);
    for (unsigned waits = 0;; ++waits) {
      if (aborted_) return false;
      if (seats_.try_acquire(seat)) {
        if (!queue_.empty()) {  // run the oldest, queue this one behind the rest
          queue_.push_back(std::move(item));
          item = std::move(queue_.front());
          queue_.pop_front();  // the count of queued items is unchanged
        }
        if (number) item.seq = next_ticket_++;
        lock.unlock();
        upstream.release();
        return true;
      }
      if (queue_.size() < capacity_) {
        push(std::move(item));
        lock.unlock();
        upstream.release();
        return false;
      }
      wait_for_room(lock, waits);
    }
  }

  void push(Envelope<In>&& item) {  // with mutex_ held, room checked
    queue_.push_back(std::move(item));
    size_.store(queue_.size(), std::memory_order_release);
    high_water_ = std::max(high_water_, queue_.size());
    queued_items_->fetch_add(1, std::memory_order_release);
  }

  // With mutex_ held: waits up to 1 ms for room or a free seat. On the first wait of an
  // episode, and every 16th after, it wakes a sleeper, so that the work this thread would have
  // done is taken by another.
  void wait_for_room(std::unique_lock<std::mutex>& lock, unsigned waits) {
    ++room_waiters_;
    if (waits % 16 == 0) {
      lock.unlock();
      scheduler_->before_blocking();
      lock.lock();
    }
    if (!aborted_ && queue_.size() >= capacity_ && !seats_.any_free())
      room_.wait_for(lock, std::chrono::milliseconds(1));
    --room_waiters_;
  }

  const std::size_t capacity_;
  SeatPool seats_;
  Scheduler* scheduler_ = nullptr;
  std::atomic<std::size_t>* queued_items_ = nullptr;  // the run's count
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::deque<Envelope<In>> queue_;    // guarded by mutex_
  std::atomic<std::size_t> size_{0};  // queue_.size(), for lock-free peeks
  std::size_t high_water_ = 0;        // guarded by mutex_
  std::uint64_t next_ticket_ = 0;     // guarded by mutex_
  std::size_t room_waiters_ = 0;      // guarded by mutex_
  bool aborted_ = false;              // guarded by mutex_
};

}  // namespace tendril::detail
