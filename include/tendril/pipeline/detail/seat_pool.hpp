// tendril/pipeline/detail/seat_pool.hpp — which workers of a stage are free, lock-free.
//
// One bit per worker seat, set while the seat is free; a stage with one seat uses a BiasedSeat
// instead. try_acquire() and release() are thread-safe; acquiring a seat synchronises with its
// last release (acquire/release), so the worker's state and counters pass cleanly from one
// thread to the next.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tendril/core/biased_seat.hpp"

namespace tendril::detail {

class SeatPool {
 public:
  // The first 64 seats live in one word held inline (the common case costs one CAS); more
  // seats spill into further words. A single seat, the common stage's, is a BiasedSeat: the
  // thread that carries the stage's items takes it with no locked instruction at all.
  explicit SeatPool(std::size_t count)
      : single_(count == 1), extra_(count > 64 ? (count - 1) / 64 : 0) {
    if (single_) return;
    for (std::size_t i = 0; i < count; ++i)
      word(i / 64).fetch_or(bit(i), std::memory_order_relaxed);
  }

  bool try_acquire(std::uint32_t& seat) {
    if (single_) {
      seat = 0;
      return only_.try_acquire();
    }
    return try_acquire_many(seat);
  }

  // try_acquire()'s path that needs no call and no locked instruction (a single seat taken by
  // its usual thread); false says only that this path did not take a seat.
  bool try_acquire_inline(std::uint32_t& seat) noexcept {
    seat = 0;
    return single_ && only_.try_acquire_as_owner();
  }

  void release(std::uint32_t seat) {
    if (single_)
      only_.release();
    else
      word(seat / 64).fetch_or(bit(seat), std::memory_order_release);
  }

  bool any_free() const {
    if (single_) return only_.looks_free();
    if (first_.load(std::memory_order_relaxed)) return true;
    for (const auto& w : extra_)
      if (w.load(std::memory_order_relaxed)) return true;
    return false;
  }

 private:
  [[gnu::noinline]] bool try_acquire_many(std::uint32_t& seat) {
    if (take(first_, 0, seat)) return true;
    for (std::size_t w = 0; w < extra_.size(); ++w)
      if (take(extra_[w], w + 1, seat)) return true;
    return false;
  }

  static std::uint64_t bit(std::size_t seat) { return std::uint64_t{1} << (seat % 64); }
  std::atomic<std::uint64_t>& word(std::size_t index) {
    return index == 0 ? first_ : extra_[index - 1];
  }

  static bool take(std::atomic<std::uint64_t>& word, std::size_t index, std::uint32_t& seat) {
    std::uint64_t free = word.load(std::memory_order_relaxed);
    while (free) {
      const std::uint64_t lowest = free & (~free + 1);
      if (word.compare_exchange_weak(free, free & ~lowest, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
        seat = static_cast<std::uint32_t>(index * 64 + std::countr_zero(lowest));
        return true;
      }
    }
    return false;
  }

  const bool single_;
  BiasedSeat only_;  // the seat when there is one
  std::atomic<std::uint64_t> first_{0};
  std::vector<std::atomic<std::uint64_t>> extra_;
};

}  // namespace tendril::detail
