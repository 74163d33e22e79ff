// src/state/ring.hpp — a bounded lock-free ring: many producers, one consumer.
//
// try_push() never blocks or allocates; it fails when the ring is full. try_pop() is for the
// single consumer. Cells hold no value until one is pushed, so an idle ring costs neither
// construction time nor resident memory, whatever T's default constructor does. Dmitry Vyukov's
// bounded queue: each cell carries a sequence number that says whose turn it is.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace tendril::state {

template <class T>
class Ring {
 public:
  explicit Ring(std::size_t capacity)
      : mask_(std::bit_ceil(capacity) - 1), cells_(new Cell[mask_ + 1]) {
    for (std::size_t i = 0; i <= mask_; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
  }

  bool try_push(T&& value) noexcept {
    std::size_t position = head_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[position & mask_];
      const std::size_t sequence = cell.sequence.load(std::memory_order_acquire);
      const auto difference =
          static_cast<std::intptr_t>(sequence) - static_cast<std::intptr_t>(position);
      if (difference == 0) {
        if (head_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
          cell.value.emplace(std::move(value));
          cell.sequence.store(position + 1, std::memory_order_release);
          return true;
        }
      } else if (difference < 0) {
        return false;  // full
      } else {
        position = head_.load(std::memory_order_relaxed);
      }
    }
  }

  std::optional<T> try_pop() noexcept {
    Cell& cell = cells_[tail_ & mask_];
    const std::size_t sequence = cell.sequence.load(std::memory_order_acquire);
    if (static_cast<std::intptr_t>(sequence) - static_cast<std::intptr_t>(tail_ + 1) < 0)
      return std::nullopt;  // empty
    std::optional<T> out(std::move(cell.value));
    cell.value.reset();
    cell.sequence.store(tail_ + mask_ + 1, std::memory_order_release);
    ++tail_;
    return out;
  }

 private:
  struct Cell {
    std::atomic<std::size_t> sequence;
    std::optional<T> value;
  };
  const std::size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::size_t tail_ = 0;  // the consumer's
};

}  // namespace tendril::state
