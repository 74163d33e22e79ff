// src/state/backlog.hpp — the publisher worker's states waiting to be sent. Internal.
//
// A FIFO kept in one vector with a read index: a state costs no allocation of its own (a
// std::deque of the publisher's 328-byte entries allocates a node for each), and the vector's
// storage is reused from batch to batch. Not thread-safe.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace tendril::state::detail {

template <class T>
class Backlog {
 public:
  std::size_t size() const noexcept { return items_.size() - head_; }
  bool empty() const noexcept { return head_ == items_.size(); }
  T& operator[](std::size_t i) { return items_[head_ + i]; }
  const T& operator[](std::size_t i) const { return items_[head_ + i]; }
  auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const { return items_.end(); }

  void push_back(T&& item) { items_.push_back(std::move(item)); }

  // The oldest `n` (at most size()) leave. They are destroyed when the backlog empties, or
  // when more than half of the vector is behind the read index (the rest then moves down), so
  // at most as many again as are waiting are kept alive.
  void pop_front(std::size_t n) {
    head_ += n;
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ > items_.size() / 2) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;  // items_[0, head_) have left
};

}  // namespace tendril::state::detail
