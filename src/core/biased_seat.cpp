#include "tendril/core/biased_seat.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#if defined(__SANITIZE_THREAD__)
#define TENDRIL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TENDRIL_TSAN 1
#endif
#endif

namespace tendril::detail {

namespace {

long membarrier(int command) { return syscall(__NR_membarrier, command, 0, 0); }

bool register_fence() noexcept {
#ifdef TENDRIL_TSAN
  return false;  // ThreadSanitizer does not see the fence and would report the owner's path
#else
  const long supported = membarrier(MEMBARRIER_CMD_QUERY);
  return supported > 0 && (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
         membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#endif
}

}  // namespace

bool asymmetric_fence_available() noexcept {
  static const bool available = register_fence();
  return available;
}

void asymmetric_heavy_fence() noexcept {
  // The process registered before any seat was biased, so this cannot fail; if it did, a
  // biased seat would no longer exclude, and going on would corrupt the seat's state.
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
    std::fputs("tendril: membarrier(PRIVATE_EXPEDITED) failed after registering\n", stderr);
    std::abort();
  }
}

bool BiasedSeat::acquire_shared(std::uintptr_t me) noexcept {
  std::uintptr_t bias = bias_.load(std::memory_order_acquire);
  if (bias != 0) {
    if ((bias & kRevoking) != 0 || (bias & ~kRevoking) == me) return false;  // under way
    if (!bias_.compare_exchange_strong(bias, bias | kRevoking, std::memory_order_acq_rel))
      return false;
    asymmetric_heavy_fence();  // from here the owner either is seen holding or sees the mark
    if (held_.load(std::memory_order_acquire) != 0) return false;  // its release ends it
    if (!end_revocation(bias | kRevoking)) return false;
  }
  if (free_.load(std::memory_order_relaxed) == 0 ||
      free_.exchange(0, std::memory_order_acquire) == 0)
    return false;
  if (last_taker_ != me) {
    last_taker_ = me;
    streak_ = 1;
  } else if (++streak_ >= rebias_after_ && asymmetric_fence_available()) {
    held_.store(1, std::memory_order_relaxed);  // the hold becomes the owner's; free_ stays 0
    bias_.store(me, std::memory_order_release);
  }
  return true;
}

bool BiasedSeat::end_revocation(std::uintptr_t revoking) noexcept {
  if (!bias_.compare_exchange_strong(revoking, 0, std::memory_order_acq_rel)) return false;
  last_taker_ = 0;
  streak_ = 0;
  rebias_after_ = std::min(rebias_after_ * 2, kLastRebias);
  free_.store(1, std::memory_order_release);
  return true;
}

}  // namespace tendril::detail
