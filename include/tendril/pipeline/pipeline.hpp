// tendril/pipeline/pipeline.hpp — typed pipelines: a source followed by stages.
//
//   auto pipe = tendril::Pipeline(std::views::iota(0, 100)) >> add_one >> check;
//   tendril::Result<tendril::Metrics> done = pipe.run();    // blocks until drained
//   for (int v : pipe.iter()) { ... }                       // or stream the results
//
// A Pipeline is an immutable description: `>>` returns a new one, copies are cheap, and one
// pipeline may run many times (a single-pass source only once). Each run builds fresh queues,
// workers and WorkerStates. cancel() is thread-safe and reaches every run of this pipeline
// object that is under way; the other members are meant for one thread at a time.
#pragma once

#include <concepts>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "tendril/core/error.hpp"
#include "tendril/core/type_name.hpp"
#include "tendril/pipeline/detail/run.hpp"
#include "tendril/pipeline/metrics.hpp"
#include "tendril/pipeline/stage.hpp"

namespace tendril {

template <class T>
class Pipeline;

namespace detail {

// Instantiated by `pipeline >> stage`; a failing assertion here names both types:
// StageExpectsInput<the stage's input type, the item type the pipeline yields>.
template <class StageInput, class PipelineItem>
struct StageExpectsInput {
  static constexpr bool value = std::is_same_v<StageInput, PipelineItem>;
  static_assert(value,
                "tendril: this stage's input type differs from the item type the pipeline "
                "yields; see StageExpectsInput<stage input, pipeline item> below");
};

template <class T>
inline constexpr bool is_pipeline = false;
template <class T>
inline constexpr bool is_pipeline<Pipeline<T>> = true;

// A callable that yields std::optional<T>: nullopt ends the items.
template <class F>
concept generator_callable = std::invocable<F&> && requires(F& f) {
  typename std::invoke_result_t<F&>::value_type;
  requires std::same_as<std::invoke_result_t<F&>,
                        std::optional<typename std::invoke_result_t<F&>::value_type>>;
};

template <class R>
concept range_source = std::ranges::input_range<R> && std::ranges::viewable_range<R> &&
    !is_pipeline<std::remove_cvref_t<R>>;

// Keeps a run registered with its pipeline's registry for as long as it is under way.
class Registration {
 public:
  Registration(RunRegistry& registry, RunContext& run) : registry_(registry), run_(run) {
    registry_.add(&run_);
  }
  ~Registration() { registry_.remove(&run_); }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  RunRegistry& registry_;
  RunContext& run_;
};

}  // namespace detail

// The items of one run, as they leave the last stage. With `WithErrors`, errors that a stage
// passed downstream (OnError::pass) come as error values; otherwise they are skipped (and were
// counted as failures). Destroying the iteration before the end cancels the run and joins every
// thread. Not thread-safe: one thread iterates.
template <class T, bool WithErrors>
class Iteration {
 public:
  using value_type = std::conditional_t<WithErrors, Result<T>, T>;

  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = Iteration::value_type;
    using difference_type = std::ptrdiff_t;

    iterator() = default;
    value_type& operator*() const { return *owner_->current_; }
    value_type* operator->() const { return &*owner_->current_; }
    iterator& operator++() {
      owner_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    friend class Iteration;
    explicit iterator(Iteration* owner) : owner_(owner) {}
    bool at_end() const { return !owner_ || !owner_->current_; }
    Iteration* owner_ = nullptr;
  };

  Iteration(Iteration&&) noexcept = default;
  Iteration& operator=(Iteration&&) = delete;
  ~Iteration() {
    if (state_) end_run();
  }

  // Starts reading; call once.
  iterator begin() {
    advance();
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

  // Ends the run — cancelling it if the items are not all read — and reports how it went.
  Result<Metrics> result() {
    if (state_) end_run();
    return *outcome_;
  }

 private:
  template <class>
  friend class Pipeline;

  struct State {
    State(std::shared_ptr<detail::SourceBase> source, const detail::StageChain& stages,
          std::size_t max_buffer, std::shared_ptr<detail::RunRegistry> reg)
        : sink(max_buffer), core(std::move(source), stages, sink), registry(std::move(reg)) {
      core.context().on_abort([this] { sink.queue().abort(); });
      core.on_finished([this] { sink.queue().close(); });
      // Reachable by cancel() only once every abort hook is in place.
      registration.emplace(*registry, core.context());
    }
    detail::QueueInlet<T> sink;
    detail::RunCore core;
    std::shared_ptr<detail::RunRegistry> registry;
    std::optional<detail::Registration> registration;
    bool drained = false;
  };

  explicit Iteration(Error error) : outcome_(std::unexpected(std::move(error))) {}
  Iteration(std::shared_ptr<detail::SourceBase> source, const detail::StageChain& stages,
            std::size_t max_buffer, std::shared_ptr<detail::RunRegistry> registry)
      : state_(
            std::make_unique<State>(std::move(source), stages, max_buffer, std::move(registry))) {
    state_->core.start();
  }

  void advance() {
    current_.reset();
    if (!state_ || state_->drained) return;
    while (auto envelope = state_->sink.queue().pop()) {
      if constexpr (WithErrors) {
        current_.emplace(detail::to_result(std::move(envelope->value)));
        return;
      } else if (envelope->value) {
        current_.emplace(std::move(*envelope->value));
        return;
      }
    }
    state_->drained = true;
  }

  void end_run() {
    if (!state_->drained)
      state_->core.context().fail(
          Error{.kind = ErrorKind::cancelled, .message = "iteration stopped before the end"});
    std::optional<Metrics> metrics;
    outcome_ = state_->core.finish(metrics);
    state_->registry->set_last(metrics);
    state_.reset();
    current_.reset();
  }

  std::unique_ptr<State> state_;
  std::optional<value_type> current_;
  std::optional<Result<Metrics>> outcome_;
};

template <class T>
class Pipeline {
 public:
  using value_type = T;

  // From any input range or view (a container, std::views::iota, an istream_view...). An lvalue
  // is referenced, so keep it alive while the pipeline runs; an rvalue is moved in.
  template <detail::range_source R>
  requires std::same_as<std::ranges::range_value_t<R>, T>
  explicit Pipeline(R&& range)
      : source_(std::make_shared<detail::RangeSource<R>>(std::forward<R>(range))) {}

  // From a generator-like callable returning std::optional<T>; nullopt ends the items.
  template <detail::generator_callable F>
  requires std::same_as<typename std::invoke_result_t<F&>::value_type, T>
  explicit Pipeline(F next)
      : source_(std::make_shared<detail::GeneratorSource<F, T>>(std::move(next))) {}

  // A new pipeline: this one followed by `stage`. The stage must take this pipeline's items.
  template <class In, class Out>
  Pipeline<Out> stage(const Stage<In, Out>& next) const {
    if constexpr (detail::StageExpectsInput<In, T>::value) {
      auto stages = stages_;
      stages.push_back(std::make_shared<detail::ErasedStage<In, Out>>(next.spec()));
      return Pipeline<Out>(source_, std::move(stages));
    } else {
      std::terminate();  // unreachable: the static_assert above has already failed
    }
  }
  template <class In, class Out>
  friend Pipeline<Out> operator>>(const Pipeline& pipe, const Stage<In, Out>& next) {
    return pipe.stage(next);
  }

  // A new pipeline: this one followed by the stages of `tail`; tail's own source is ignored, as
  // in the seed ("the generator is replaced by the parent"). Throws std::invalid_argument when
  // tail's first stage does not take this pipeline's items.
  template <class U>
  Pipeline<U> then(const Pipeline<U>& tail) const {
    const std::type_index wanted =
        tail.stages_.empty() ? std::type_index(typeid(U)) : tail.stages_.front()->input_type();
    if (wanted != typeid(T))
      throw UsageError("tendril: cannot append a pipeline whose first stage takes " +
                       detail::demangle_index(wanted) + " to one that yields " +
                       detail::demangle(typeid(T)));
    auto stages = stages_;
    stages.insert(stages.end(), tail.stages_.begin(), tail.stages_.end());
    return Pipeline<U>(source_, std::move(stages));
  }
  template <class U>
  friend Pipeline<U> operator>>(const Pipeline& pipe, const Pipeline<U>& tail) {
    return pipe.then(tail);
  }

  // Runs to the end and discards the output. An error only when the source threw (items before
  // it were still processed), the run was cancelled, a handler pulled the kill switch, a stage
  // with OnError::fail_fast failed, or a single-pass source was already consumed.
  Result<Metrics> run() {
    if (!source_->claim()) return std::unexpected(detail::consumed_source_error());
    detail::DiscardInlet<T> sink;
    detail::RunCore core(source_, stages_, sink);
    std::optional<Metrics> metrics;
    Result<Metrics> outcome;
    {
      detail::Registration registration(*registry_, core.context());
      core.start();
      outcome = core.finish(metrics);
    }
    registry_->set_last(metrics);
    return outcome;
  }

  // Starts a run whose results are read as they come, through a queue of `max_buffer` items.
  Iteration<T, false> iter(std::size_t max_buffer = 64) { return start<false>(max_buffer); }
  // As iter(), with errors passed downstream (OnError::pass) delivered as values.
  Iteration<T, true> iter_results(std::size_t max_buffer = 64) { return start<true>(max_buffer); }

  // Cancels the runs of this pipeline under way; they end with ErrorKind::cancelled and
  // `reason`. Returns false when none was running. Thread-safe.
  bool cancel(std::string reason = "pipeline cancelled") { return registry_->cancel(reason); }

  // The metrics of the last run that ended, whatever its outcome.
  std::optional<Metrics> last_metrics() const { return registry_->last(); }
  std::size_t stage_count() const noexcept { return stages_.size(); }

 private:
  template <class>
  friend class Pipeline;

  Pipeline(std::shared_ptr<detail::SourceBase> source, detail::StageChain stages)
      : source_(std::move(source)), stages_(std::move(stages)) {}

  template <bool WithErrors>
  Iteration<T, WithErrors> start(std::size_t max_buffer) {
    if (max_buffer == 0) throw UsageError("tendril: iter() needs max_buffer >= 1");
    if (!source_->claim()) return Iteration<T, WithErrors>(detail::consumed_source_error());
    return Iteration<T, WithErrors>(source_, stages_, max_buffer, registry_);
  }

  std::shared_ptr<detail::SourceBase> source_;
  detail::StageChain stages_;
  std::shared_ptr<detail::RunRegistry> registry_ = std::make_shared<detail::RunRegistry>();
};

template <detail::range_source R>
Pipeline(R&&) -> Pipeline<std::ranges::range_value_t<R>>;
template <detail::generator_callable F>
Pipeline(F) -> Pipeline<typename std::invoke_result_t<F&>::value_type>;

}  // namespace tendril
