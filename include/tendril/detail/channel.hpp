// tendril/detail/channel.hpp — how items travel between the parts of one run.
//
// An `Inlet<T>` is where a producer (the source, or a stage's worker) puts items of type T. It
// knows how many producers feed it; when the last one calls producer_done() it closes, and its
// consumers drain and finish. push() blocks while the consumer is full (backpressure) and
// returns false once the run is aborted. Every method is thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tendril/bounded_queue.hpp"
#include "tendril/error.hpp"
#include "tendril/metrics.hpp"

namespace tendril::detail {

// An item on its way, or an error passed downstream as a value. `seq` numbers items where a
// stage needs to match or order them (fork_merge cohorts).
template <class T>
struct Envelope {
  Result<T> value = {};
  std::uint64_t seq = 0;
};

class InletBase {
 public:
  virtual ~InletBase() = default;
  // Before the run starts: how many producers will call producer_done().
  virtual void expect_producers(std::size_t count) = 0;
  virtual void producer_done() = 0;
};

template <class T>
class Inlet : public InletBase {
 public:
  virtual bool push(Envelope<T>&& item) = 0;
};

// Counts producers down and runs `close` when the last one is done.
class ProducerCount {
 public:
  void expect(std::size_t count) { left_.store(count, std::memory_order_relaxed); }
  // True for exactly one caller: the last producer.
  bool done() { return left_.fetch_sub(1, std::memory_order_acq_rel) == 1; }

 private:
  std::atomic<std::size_t> left_{0};
};

// The end of a run() pipeline: items are dropped (they were counted by the last stage).
template <class T>
class DiscardInlet final : public Inlet<T> {
 public:
  void expect_producers(std::size_t) override {}
  void producer_done() override {}
  bool push(Envelope<T>&&) override { return true; }
};

// The end of an iter() pipeline: a bounded queue the iterating thread reads.
template <class T>
class QueueInlet final : public Inlet<T> {
 public:
  explicit QueueInlet(std::size_t capacity) : queue_(capacity) {}
  void expect_producers(std::size_t count) override { producers_.expect(count); }
  void producer_done() override {
    if (producers_.done()) queue_.close();
  }
  bool push(Envelope<T>&& item) override { return queue_.push(std::move(item)); }
  BoundedQueue<Envelope<T>>& queue() { return queue_; }

 private:
  BoundedQueue<Envelope<T>> queue_;
  ProducerCount producers_;
};

// A running stage, as the run that owns it sees it.
class NodeBase {
 public:
  virtual ~NodeBase() = default;
  virtual std::size_t workers() const = 0;
  virtual void start() = 0;  // spawns the workers
  virtual void join() = 0;   // waits for them; they end when their input is closed and drained
  virtual StageMetrics metrics() const = 0;
};

}  // namespace tendril::detail
