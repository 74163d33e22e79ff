// eventually(condition): for tests that wait on other threads, bounded in real time.
#pragma once

#include <chrono>
#include <thread>

namespace test_support {

// True once `condition` holds, polling every millisecond for at most `limit`; false when the
// limit passed first. For events on other threads, never to let time pass (a test that needs
// time to pass moves a ManualClock).
template <class Condition>
bool eventually(Condition condition,
                std::chrono::milliseconds limit = std::chrono::milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace test_support
