// tendril/detail/source.hpp — where a pipeline's items come from.
//
// A source is pumped by one thread per run. Multi-pass sources (containers, forward ranges) may
// run any number of times; single-pass ones (input-only ranges, generator callables) run once,
// and a second run is a usage error instead of a silent zero.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>
#include <ranges>
#include <typeindex>
#include <utility>

#include "tendril/detail/channel.hpp"
#include "tendril/detail/run_context.hpp"

namespace tendril::detail {

class SourceBase {
 public:
  explicit SourceBase(bool single_pass) : single_pass_(single_pass) {}
  virtual ~SourceBase() = default;
  virtual std::type_index item_type() const = 0;
  // Pushes every item into `inlet` (an Inlet<item type>) until the end, an abort or a throw;
  // then calls producer_done(). Returns how many items it pushed. A throw is recorded in
  // `context` as a source error.
  virtual std::uint64_t pump(InletBase& inlet, RunContext& context) = 0;

  bool single_pass() const noexcept { return single_pass_; }
  // False when this single-pass source has already been claimed by a run. Thread-safe.
  bool claim() { return !single_pass_ || !claimed_.exchange(true); }

 private:
  const bool single_pass_;
  std::atomic<bool> claimed_{false};
};

template <class T>
class TypedSource : public SourceBase {
 public:
  using SourceBase::SourceBase;
  std::type_index item_type() const final { return typeid(T); }
  std::uint64_t pump(InletBase& inlet, RunContext& context) final {
    auto& typed = static_cast<Inlet<T>&>(inlet);
    std::uint64_t pushed = 0;
    try {
      generate([&](T&& item) {
        if (context.stopped() || !typed.push(Envelope<T>{std::move(item)})) return false;
        ++pushed;
        return true;
      });
    } catch (const std::exception& e) {
      context.source_failed(Error{.kind = ErrorKind::source, .message = e.what()});
    } catch (...) {
      context.source_failed(Error{.kind = ErrorKind::source, .message = "unknown exception"});
    }
    inlet.producer_done();
    return pushed;
  }

 protected:
  // Calls emit(item) for each item until emit returns false or the items end.
  virtual void generate(const std::function<bool(T&&)>& emit) = 0;
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
  void generate(const std::function<bool(T&&)>& emit) override {
    for (auto&& item : view_)
      if (!emit(T(std::forward<decltype(item)>(item)))) return;
  }
  View view_;
};

// A generator-like callable: each call returns the next item, or nullopt at the end.
template <class F, class T>
class GeneratorSource final : public TypedSource<T> {
 public:
  explicit GeneratorSource(F next) : TypedSource<T>(true), next_(std::move(next)) {}

 private:
  void generate(const std::function<bool(T&&)>& emit) override {
    while (std::optional<T> item = next_())
      if (!emit(std::move(*item))) return;
  }
  F next_;
};

}  // namespace tendril::detail
