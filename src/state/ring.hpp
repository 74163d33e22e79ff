// src/state/ring.hpp — a bounded lock-free ring: many producers, one consumer.
//
// try_push() never blocks or allocates; it fails when the ring is full. try_pop() is for the
// single consumer. Dmitry Vyukov's bounded queue: each cell has a sequence number that says
// whose turn it is. The sequence numbers are one array, written when the ring is made (8 bytes a
// cell); the values are another, raw mapped storage that making the ring does not touch, so that
// making a ring of large values is quick (65,536 tool states: 0.5 MiB written, not 21 MiB).
// prefault() then makes the storage resident from another thread, so that no push pays a page
// fault.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <thread>
#include <utility>

#include <sys/mman.h>

namespace tendril::state {

template <class T>
class Ring {
 public:
  // Throws std::bad_alloc when the storage cannot be mapped.
  explicit Ring(std::size_t capacity)
      : mask_(std::bit_ceil(capacity) - 1),
        sequences_(new std::atomic<std::size_t>[mask_ + 1]),
        storage_bytes_((mask_ + 1) * sizeof(Storage)),
        values_(map_storage(storage_bytes_)) {
    for (std::size_t i = 0; i <= mask_; ++i) sequences_[i].store(i, std::memory_order_relaxed);
  }
  ~Ring() {
    while (try_pop()) {
    }
    ::munmap(values_, storage_bytes_);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // On success, `position` is the push's number, counting from 0 since the ring was made. The
  // claim of the cell is sequentially consistent, so that a producer and the consumer can
  // each look at a flag of the other's after it (see the publisher's wake-up).
  bool try_push(T&& value, std::size_t& position) noexcept {
    position = head_.load(std::memory_order_relaxed);
    for (;;) {
      std::atomic<std::size_t>& sequence = sequences_[position & mask_];
      const std::size_t seen = sequence.load(std::memory_order_acquire);
      const auto difference =
          static_cast<std::intptr_t>(seen) - static_cast<std::intptr_t>(position);
      if (difference == 0) {
        if (head_.compare_exchange_weak(position, position + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
          ::new (values_[position & mask_].bytes) T(std::move(value));
          sequence.store(position + 1, std::memory_order_release);
          return true;
        }
      } else if (difference < 0) {
        return false;  // full
      } else {
        position = head_.load(std::memory_order_relaxed);
      }
    }
  }

  // Makes the value storage resident without changing what it holds: safe beside pushes and
  // pops on other threads (MADV_POPULATE_WRITE, Linux 5.14; elsewhere pushes fault pages in).
  void prefault() const noexcept { ::madvise(values_, storage_bytes_, MADV_POPULATE_WRITE); }

  std::optional<T> try_pop() noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    std::atomic<std::size_t>& sequence = sequences_[tail & mask_];
    const std::size_t seen = sequence.load(std::memory_order_acquire);
    if (static_cast<std::intptr_t>(seen) - static_cast<std::intptr_t>(tail + 1) < 0)
      return std::nullopt;  // empty
    T* value = std::launder(reinterpret_cast<T*>(values_[tail & mask_].bytes));
    std::optional<T> out(std::move(*value));
    value->~T();
    sequence.store(tail + mask_ + 1, std::memory_order_release);
    tail_.store(tail + 1, std::memory_order_relaxed);
    return out;
  }

  // The oldest value when size() said there is one: its cell may be claimed and still being
  // written (a few instructions away in its producer), so this waits for it, yielding.
  T pop_claimed() noexcept {
    for (;;) {
      if (std::optional<T> value = try_pop()) return std::move(*value);
      std::this_thread::yield();
    }
  }

  // Values pushed since the ring was made (a push under way counts), popped, and in the ring
  // now. Any thread; exact only while no one pushes or pops.
  std::size_t pushed() const noexcept { return head_.load(std::memory_order_seq_cst); }
  std::size_t popped() const noexcept { return tail_.load(std::memory_order_seq_cst); }
  std::size_t size() const noexcept {
    const std::size_t tail = tail_.load(std::memory_order_seq_cst);
    return pushed() - tail;
  }

 private:
  struct Storage {
    alignas(T) unsigned char bytes[sizeof(T)];
  };
  static Storage* map_storage(std::size_t bytes) {
    void* mapped =
        ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    return static_cast<Storage*>(mapped);
  }

  const std::size_t mask_;
  std::unique_ptr<std::atomic<std::size_t>[]> sequences_;
  const std::size_t storage_bytes_;
  Storage* const values_;  // a value lives in cell i while sequences_[i] says so
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};  // written by the consumer only
};

}  // namespace tendril::state
