// tendril/pipeline/detail/channel.hpp — how items travel between the parts of one run.
//
// An `Inlet<T>` takes items of type T from whoever produced them. accept() may run the item's
// next handlers on the calling thread (run-to-completion), queue it, or block while the
// consumer is full (backpressure). It releases the producer's `Lease` (its worker seat) once
// the item is safely inside, never before, so that one-worker stages keep FIFO order. Every
// method is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tendril/core/bounded_queue.hpp"
#include "tendril/core/error.hpp"
#include "tendril/core/scheduler.hpp"
#include "tendril/pipeline/detail/handler_traits.hpp"
#include "tendril/pipeline/metrics.hpp"

namespace tendril::detail {

// An item on its way, or an error passed downstream as a value. `seq` numbers items where a
// stage needs to match them (fork_merge cohorts).
template <class T>
struct Envelope {
  Carried<T> value = {};
  std::uint64_t seq = 0;
};

class InletBase {
 public:
  virtual ~InletBase() = default;
};

template <class T>
class Inlet : public InletBase {
 public:
  virtual void accept(Envelope<T>&& item, Lease& upstream) = 0;
  // Lock-free hint: would accept() take an item now without blocking (a free worker or room
  // in the queue)? The source pulls only then, so no thread holds an item it cannot place.
  virtual bool can_accept() const { return true; }
  // Lock-free hint: is a worker free, so that an item accepted now would start at once?
  virtual bool has_free_worker() const { return true; }
  // Whether accept() only lets the lease go (the end of a run()): a stage may skip the call.
  bool discards() const noexcept { return discards_; }

 protected:
  bool discards_ = false;
};

// The end of a run() pipeline: items are dropped (they were counted by the last stage).
template <class T>
class DiscardInlet final : public Inlet<T> {
 public:
  DiscardInlet() { this->discards_ = true; }
  void accept(Envelope<T>&&, Lease& upstream) override { upstream.release(); }
};

// The end of an iter() pipeline: a bounded queue the iterating thread reads.
template <class T>
class QueueInlet final : public Inlet<T> {
 public:
  explicit QueueInlet(std::size_t capacity) : queue_(capacity) {}
  void accept(Envelope<T>&& item, Lease& upstream) override {
    queue_.push(std::move(item));  // false only when aborted: the item is dropped then
    upstream.release();
  }
  BoundedQueue<Envelope<T>>& queue() { return queue_; }

 private:
  BoundedQueue<Envelope<T>> queue_;
};

// A stage of a run, as the run that owns it sees it.
class NodeBase {
 public:
  virtual ~NodeBase() = default;
  virtual std::size_t workers() const = 0;
  // Threads the run needs for it: one per worker for plain handlers, one for coroutines.
  virtual std::size_t threads() const { return workers(); }
  virtual Runner& runner() = 0;
  virtual void bind(Scheduler& scheduler) = 0;  // before the run starts
  virtual StageMetrics metrics() const = 0;     // after it ended
};

}  // namespace tendril::detail
