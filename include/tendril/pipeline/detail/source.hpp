// tendril/pipeline/detail/source.hpp — where a pipeline's items come from.
//
// Each run opens a cursor on the source; whichever thread holds the source's single seat pulls
// the next item and carries it into the first stage. Multi-pass sources (containers, forward
// ranges) may run any number of times; single-pass ones (input-only ranges, generator
// callables) run once, and a second run is a usage error instead of a silent zero.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <ranges>
#include <typeindex>
#include <utility>

#include "tendril/core/biased_seat.hpp"
#include "tendril/core/scheduler.hpp"
#include "tendril/pipeline/detail/channel.hpp"
#include "tendril/pipeline/detail/run_context.hpp"

namespace tendril::detail {

class SourceRunnerBase : public Runner {
 public:
  virtual std::uint64_t produced() const = 0;  // after the run
  // Before the run starts: the run's count of queued items, which ends a batch of pulls.
  void bind(Scheduler& scheduler) { queued_items_ = &scheduler.queued_items(); }

 protected:
  // Whether an item waits in some stage's queue (a thread should go there before pulling).
  bool stage_work_waits() const noexcept {
    return queued_items_->load(std::memory_order_relaxed) != 0;
  }

 private:
  static constexpr std::atomic<std::size_t> kNoneQueued{0};
  const std::atomic<std::size_t>* queued_items_ = &kNoneQueued;  // until bind()
};

class SourceBase {
 public:
  explicit SourceBase(bool single_pass) : single_pass_(single_pass) {}
  virtual ~SourceBase() = default;
  virtual std::type_index item_type() const = 0;
  // A runner that pulls this source's items into `first` (an Inlet of item_type()).
  virtual std::unique_ptr<SourceRunnerBase> open(InletBase& first, RunContext& context) = 0;

  bool single_pass() const noexcept { return single_pass_; }
  // False when this single-pass source has already been claimed by a run. Thread-safe.
  bool claim() { return !single_pass_ || !claimed_.exchange(true); }

 private:
  const bool single_pass_;
  std::atomic<bool> claimed_{false};
};

// Where one run is in a source: `next()` gives the next item, nullopt at the end, and may throw.
template <class C, class T>
concept cursor_of = requires(C& cursor) {
  { cursor.next() } -> std::same_as<std::optional<T>>;
};

// Pulls through a cursor of type C, held by value and called directly.
template <class T, cursor_of<T> C>
class SourceRunner final : public SourceRunnerBase {
 public:
  SourceRunner(C cursor, Inlet<T>& first, RunContext& context)
      : cursor_(std::move(cursor)), first_(first), context_(context) {}

  // Pulls and carries in up to kBatch items, one at a time, while the first stage can take
  // them and no stage has items queued (the scheduler looks at those first): a trivial chain
  // then costs no trip through the scheduler's loop per item.
  bool try_run() override {
    std::uint32_t pulled = 0;
    while (pull_one() && ++pulled < kBatch && !stage_work_waits()) {
    }
    return pulled > 0;
  }

  // Worth another thread when the first stage has a free worker (parallel work), or when
  // pulling is slow enough (an I/O source) that pulling ahead overlaps with the stages.
  bool runnable() const override {
    return !exhausted_.load(std::memory_order_relaxed) && seat_.looks_free() &&
           first_.can_accept() && (first_.has_free_worker() || cost_ns() >= kSlowPullNs);
  }
  std::uint64_t cost_ns() const override { return cost_ns_.load(std::memory_order_relaxed); }
  bool drained() const override { return exhausted_.load(std::memory_order_acquire); }
  std::uint64_t produced() const override { return produced_; }

 private:
  static constexpr std::uint64_t kSlowPullNs = 1000;
  static constexpr std::uint32_t kSampleEvery = 256;
  static constexpr std::uint32_t kBatch = 64;

  // Takes the source's seat and carries one item (or the end of the items, or the source's
  // failure) into the first stage; false when there was nothing to do.
  [[gnu::always_inline]] bool pull_one() {
    if (exhausted_.load(std::memory_order_acquire) || !first_.can_accept() || !seat_.try_acquire())
      return false;
    std::optional<T> item;
    if (exhausted_.load(std::memory_order_relaxed) || context_.stopped() || --until_sample_ == 0)
        [[unlikely]] {
      return pull_rarely();
    }
    try {
      item = cursor_.next();
    } catch (...) {
      return failed(std::current_exception());
    }
    if (!item) [[unlikely]]
      return ended();
    carry(std::move(*item));
    return true;
  }

  // With the seat held: `item` into the first stage, which lets the seat go.
  [[gnu::always_inline]] void carry(T&& item) {
    ++produced_;
    Lease lease(&seat_, 0);
    first_.accept(Envelope<T>{std::move(item)}, lease);
  }

  // pull_one() with the seat held, when another thread ended the items meanwhile, the run is
  // stopping, or this pull is the one in kSampleEvery that is timed.
  [[gnu::noinline]] bool pull_rarely() {
    if (exhausted_.load(std::memory_order_relaxed)) {
      seat_.release();
      return false;
    }
    if (context_.stopped()) return ended();
    until_sample_ = kSampleEvery;
    std::optional<T> item;
    const auto started = std::chrono::steady_clock::now();
    try {
      item = cursor_.next();
    } catch (...) {
      return failed(std::current_exception());
    }
    cost_ns_.store(
        static_cast<std::uint64_t>(
            std::chrono::nanoseconds(std::chrono::steady_clock::now() - started).count()),
        std::memory_order_relaxed);
    if (!item) return ended();
    carry(std::move(*item));
    return true;
  }

  [[gnu::noinline]] bool failed(std::exception_ptr thrown) {
    Error failure = error_from(thrown);
    failure.kind = ErrorKind::source;
    context_.source_failed(std::move(failure));
    return ended();
  }

  bool ended() {  // with the seat held: no more items
    exhausted_.store(true, std::memory_order_release);
    seat_.release();
    return true;
  }

  C cursor_;
  Inlet<T>& first_;
  std::uint32_t until_sample_ = 1;  // touched by the source's seat holder only
  std::atomic<std::uint64_t> cost_ns_{0};
  RunContext& context_;
  // The source's seat, held while pulling, and while the pulled item enters the first stage
  // (which lets it go through the lease).
  struct Seat final : BiasedSeat, SeatOwner {
    void release_seat(std::uint32_t) override { release(); }
  } seat_;
  std::atomic<bool> exhausted_{false};
  std::uint64_t produced_ = 0;  // written by the seat holder; read after the run
};

template <class T>
class TypedSource : public SourceBase {
 public:
  using SourceBase::SourceBase;
  std::type_index item_type() const final { return typeid(T); }

 protected:
  // A runner pulling through `cursor` into `first` (an Inlet<T>).
  template <cursor_of<T> C>
  static std::unique_ptr<SourceRunnerBase> runner(C cursor, InletBase& first, RunContext& context) {
    return std::make_unique<SourceRunner<T, C>>(std::move(cursor), static_cast<Inlet<T>&>(first),
                                                context);
  }
};

// Any input range; lvalues are referenced (keep them alive), rvalues are owned.
template <std::ranges::viewable_range R>
class RangeSource final
    : public TypedSource<std::ranges::range_value_t<std::ranges::views::all_t<R>>> {
  using View = std::ranges::views::all_t<R>;
  using T = std::ranges::range_value_t<View>;

 public:
  explicit RangeSource(R&& range)
      : TypedSource<T>(!std::ranges::forward_range<View>),
        view_(std::views::all(std::forward<R>(range))) {}

 private:
  class RangeCursor {
   public:
    explicit RangeCursor(View& view)
        : it_(std::ranges::begin(view)), end_(std::ranges::end(view)) {}
    std::optional<T> next() {
      if (it_ == end_) return std::nullopt;
      std::optional<T> item(std::in_place, *it_);
      ++it_;
      return item;
    }

   private:
    std::ranges::iterator_t<View> it_;
    std::ranges::sentinel_t<View> end_;
  };
  std::unique_ptr<SourceRunnerBase> open(InletBase& first, RunContext& context) override {
    return this->runner(RangeCursor(view_), first, context);
  }
  View view_;
};

// A generator-like callable: each call returns the next item, or nullopt at the end.
template <class F, class T>
class GeneratorSource final : public TypedSource<T> {
 public:
  explicit GeneratorSource(F next) : TypedSource<T>(true), next_(std::move(next)) {}

 private:
  class GeneratorCursor {
   public:
    explicit GeneratorCursor(F& next) : next_(next) {}
    std::optional<T> next() { return next_(); }

   private:
    F& next_;
  };
  std::unique_ptr<SourceRunnerBase> open(InletBase& first, RunContext& context) override {
    return this->runner(GeneratorCursor(next_), first, context);
  }
  F next_;
};

}  // namespace tendril::detail
