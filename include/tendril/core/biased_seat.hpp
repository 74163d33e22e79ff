// tendril/core/biased_seat.hpp — one seat that its usual taker takes without a locked instruction.
//
// A seat taken with an atomic exchange costs a locked instruction, a full fence of ~20 cycles;
// a source and three one-worker stages pay it four times per item, a third of a trivial
// pipeline's time. Run-to-completion carries items through on one thread, so most one-worker
// seats are taken over and over by the same thread. The seat is therefore biased towards that
// thread, which takes it and lets it go with plain stores.
//
// Any other thread first revokes the bias. It marks the seat, then runs a process-wide
// asymmetric fence (membarrier(2): 1-20 µs), after which either it sees the owner holding the
// seat or the owner sees the mark; whoever sees the seat let go ends the revocation. The seat
// then works by exchange until one thread has taken it `rebias_after` times in a row; that
// threshold doubles with every revocation, so a seat that threads share pays for only a few.
//
// Without the fence (an old kernel, or a ThreadSanitizer build, which cannot see it) the seat is
// never biased. try_acquire() and release() are thread-safe; release() is called by the holder.
// Taking the seat synchronises with its last release, so the state the seat guards passes
// cleanly from one thread to the next.
#pragma once

#include <atomic>
#include <cstdint>

namespace tendril::detail {

// A full memory barrier on every running thread of the process; false when unavailable.
bool asymmetric_fence_available() noexcept;
void asymmetric_heavy_fence() noexcept;

class BiasedSeat {
 public:
  BiasedSeat() = default;
  BiasedSeat(const BiasedSeat&) = delete;
  BiasedSeat& operator=(const BiasedSeat&) = delete;

  bool try_acquire() noexcept {
    const std::uintptr_t me = this_thread();
    if (bias_.load(std::memory_order_relaxed) == me) {  // the owner's path: no locked instruction
      held_.store(1, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);  // the revoker's fence orders the rest
      if (bias_.load(std::memory_order_relaxed) == me) return true;
      release_biased();  // a revocation began: back off and let it finish
      return false;
    }
    return acquire_shared(me);
  }

  // The owner's path of try_acquire() alone, with no call: false whenever the calling thread
  // does not hold the bias (try_acquire() then decides).
  bool try_acquire_as_owner() noexcept {
    const std::uintptr_t me = this_thread();
    if (bias_.load(std::memory_order_relaxed) != me) return false;
    held_.store(1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // the revoker's fence orders the rest
    if (bias_.load(std::memory_order_relaxed) == me) [[likely]]
      return true;
    back_off();
    return false;
  }

  void release() noexcept {
    if ((bias_.load(std::memory_order_relaxed) & ~kRevoking) == this_thread())
      release_biased();  // the bias cannot be revoked while its owner holds the seat
    else
      free_.store(1, std::memory_order_release);
  }

  // A lock-free hint.
  bool looks_free() const noexcept {
    const std::uintptr_t bias = bias_.load(std::memory_order_relaxed);
    if (bias == 0) return free_.load(std::memory_order_relaxed) != 0;
    return held_.load(std::memory_order_relaxed) == 0;
  }

  // For tests: whether some thread holds the bias now.
  bool biased() const noexcept { return bias_.load(std::memory_order_relaxed) != 0; }

 private:
  static constexpr std::uintptr_t kRevoking = 1;  // bias_: owner | kRevoking while revoked
  static constexpr std::uint32_t kFirstRebias = 256;
  static constexpr std::uint32_t kLastRebias = std::uint32_t{1} << 24;

  static std::uintptr_t this_thread() noexcept {
    static thread_local std::uint64_t token;  // 8-aligned: bit 0 is free for kRevoking
    return reinterpret_cast<std::uintptr_t>(&token);
  }

  bool acquire_shared(std::uintptr_t me) noexcept;
  [[gnu::noinline]] void back_off() noexcept { release_biased(); }  // a revocation began
  // The owner lets its seat go; ends a revocation that began meanwhile.
  void release_biased() noexcept {
    held_.store(0, std::memory_order_release);
    const std::uintptr_t bias = bias_.load(std::memory_order_acquire);
    if ((bias & kRevoking) != 0) [[unlikely]]
      end_revocation(bias);
  }
  bool end_revocation(std::uintptr_t revoking) noexcept;

  // 0: unbiased, the seat works by exchange on free_. Else the owner thread's token, with
  // kRevoking set while another thread takes the bias away; free_ is 0 all that time.
  std::atomic<std::uintptr_t> bias_{0};
  std::atomic<std::uint32_t> held_{0};  // the owner's flag: written by the owner only
  std::atomic<std::uint32_t> free_{1};
  // Written by the thread that holds the seat by exchange (or ends a revocation) only.
  std::uintptr_t last_taker_ = 0;
  std::uint32_t streak_ = 0;
  std::uint32_t rebias_after_ = kFirstRebias;
};

}  // namespace tendril::detail
