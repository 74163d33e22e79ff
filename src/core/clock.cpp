#include "tendril/core/clock.hpp"

#include <algorithm>

namespace tendril {

namespace {

class SteadyClock final : public Clock {
 public:
  time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
  void wait_until(std::condition_variable& wake, std::unique_lock<std::mutex>& lock,
                  time_point due) override {
    wake.wait_until(lock, due);
  }
};

}  // namespace

Clock& Clock::steady() noexcept {
  static SteadyClock clock;
  return clock;
}

namespace detail {

std::chrono::nanoseconds steady_clock_read_cost() noexcept {
  static const std::chrono::nanoseconds cost = [] {
    auto least = std::chrono::steady_clock::duration::max();
    for (int i = 0; i < 16; ++i) {
      const auto first = std::chrono::steady_clock::now();
      least = std::min(least, std::chrono::steady_clock::now() - first);
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(least);
  }();
  return cost;
}

}  // namespace detail

Clock::time_point ManualClock::now() const noexcept {
  std::lock_guard lock(mutex_);
  return now_;
}

// The waiter holds its own mutex from its check of the time until wake.wait() lets it go, and
// registers under ours: an advance either sees it registered (and takes its mutex before
// notifying, so the notification cannot fall between its check and its wait) or comes before
// the registration, which then sees the new time and returns.
void ManualClock::wait_until(std::condition_variable& wake, std::unique_lock<std::mutex>& lock,
                             time_point due) {
  std::size_t ticket;
  {
    std::lock_guard guard(mutex_);
    if (now_ >= due) return;
    ticket = next_ticket_++;
    waiters_.push_back({&wake, lock.mutex(), due, ticket});
  }
  wake.wait(lock);
  std::lock_guard guard(mutex_);
  std::erase_if(waiters_, [&](const Waiter& w) { return w.ticket == ticket; });
}

void ManualClock::advance(duration by) {
  std::unique_lock lock(mutex_);
  move_to(lock, now_ + by);
}

std::optional<Clock::time_point> ManualClock::advance_to_next_due() {
  std::unique_lock lock(mutex_);
  if (waiters_.empty()) return std::nullopt;
  const auto next =
      std::min_element(waiters_.begin(), waiters_.end(), [](const Waiter& a, const Waiter& b) {
        return a.due < b.due;
      })->due;
  move_to(lock, std::max(now_, next));
  return next;
}

std::size_t ManualClock::waiters() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

void ManualClock::move_to(std::unique_lock<std::mutex>& lock, time_point to) {
  now_ = to;
  std::vector<Waiter> due;
  for (const Waiter& w : waiters_)
    if (w.due <= now_) due.push_back(w);
  lock.unlock();
  for (const Waiter& w : due) {
    { std::lock_guard theirs(*w.mutex); }  // it is inside wake.wait() now
    w.wake->notify_all();
  }
}

}  // namespace tendril
