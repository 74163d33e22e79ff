// tendril/detail/slot_pool.hpp — which workers of a stage are free, lock-free.
//
// One bit per worker slot, set while the slot is free. try_acquire() and release() are
// thread-safe; acquiring a slot synchronises with its last release (acquire/release), so the
// worker's state and counters pass cleanly from one thread to the next.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tendril::detail {

class SlotPool {
 public:
  explicit SlotPool(std::size_t count) : words_((count + 63) / 64) {
    for (std::size_t i = 0; i < count; ++i)
      words_[i / 64].fetch_or(std::uint64_t{1} << (i % 64), std::memory_order_relaxed);
  }

  bool try_acquire(std::uint32_t& slot) {
    for (std::size_t w = 0; w < words_.size(); ++w) {
      auto& word = words_[w];
      std::uint64_t free = word.load(std::memory_order_relaxed);
      while (free) {
        const std::uint64_t lowest = free & (~free + 1);
        if (word.compare_exchange_weak(free, free & ~lowest, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
          slot = static_cast<std::uint32_t>(w * 64 + std::countr_zero(lowest));
          return true;
        }
      }
    }
    return false;
  }

  void release(std::uint32_t slot) {
    words_[slot / 64].fetch_or(std::uint64_t{1} << (slot % 64), std::memory_order_release);
  }

  bool any_free() const {
    for (const auto& word : words_)
      if (word.load(std::memory_order_relaxed)) return true;
    return false;
  }

 private:
  std::vector<std::atomic<std::uint64_t>> words_;
};

}  // namespace tendril::detail
