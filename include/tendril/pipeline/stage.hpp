// tendril/pipeline/stage.hpp — stages: pools of workers that run a handler on every item.
//
//   auto add_one = tendril::work_pool({.buffer = 10, .retries = 3, .num_workers = 4},
//                                     [](int x, tendril::WorkerState&) { return x + 1; });
//   auto analyze = tendril::mix_pool({.fork_merge = merge_tags}, sentiment, keywords, topic);
//
// A `Stage` is an immutable description, cheap to copy and safe to share between pipelines and
// threads; workers, queues and state are made fresh for every run. Options are checked when the
// stage is made: a bad value throws std::invalid_argument naming the option.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "tendril/pipeline/detail/handler_traits.hpp"
#include "tendril/pipeline/detail/stage_node.hpp"
#include "tendril/pipeline/detail/stage_spec.hpp"

namespace tendril {

namespace detail {

// A handler made by process_handler() (<tendril/pipeline/process.hpp>), which a worker process
// can find by name, and the handler the stage's workers run for it: one that hands each item
// to the worker's child process.
template <class F>
concept process_handler_type = requires {
  typename F::tendril_process_handler;
};
template <class In, class Out, class F>
ErasedHandler<In, Out> process_proxy(const F& handler, const PoolOptions<In, Out>& options);

// The handler a worker runs: `handler` itself, or with multi_proc its process proxy.
template <class In, class Out, class F>
ErasedHandler<In, Out> stage_handler(F handler, const PoolOptions<In, Out>& options) {
  if constexpr (process_handler_type<F>) {
    if (options.multi_proc) return process_proxy<In, Out>(handler, options);
    return erase_handler(std::move(handler));
  } else {
    if (options.multi_proc)
      throw_invalid_stage(
          "multi_proc = true needs a handler made by tendril::process_handler(\"name\", fn) at "
          "namespace scope (<tendril/pipeline/process.hpp>): a worker process finds its handler "
          "by name");
    return erase_handler(std::move(handler));
  }
}

}  // namespace detail

template <class In, class Out>
class Stage {
 public:
  using input_type = In;
  using output_type = Out;

  explicit Stage(std::shared_ptr<const detail::StageSpec<In, Out>> spec) : spec_(std::move(spec)) {}

  const std::string& name() const noexcept { return spec_->options.name; }
  std::size_t num_workers() const noexcept { return spec_->options.num_workers; }
  // A copy of this stage under another name.
  Stage named(std::string name) const {
    auto spec = std::make_shared<detail::StageSpec<In, Out>>(*spec_);
    spec->options.name = std::move(name);
    return Stage(std::move(spec));
  }
  const std::shared_ptr<const detail::StageSpec<In, Out>>& spec() const noexcept { return spec_; }

 private:
  std::shared_ptr<const detail::StageSpec<In, Out>> spec_;
};

// A stage of `num_workers` identical workers running `handler`.
template <class F>
auto work_pool(PoolOptions<detail::handler_input_t<F>, detail::handler_output_t<F>> options,
               F handler) {
  using In = detail::handler_input_t<F>;
  using Out = detail::handler_output_t<F>;
  detail::validate(options);
  auto spec = std::make_shared<detail::StageSpec<In, Out>>();
  if constexpr (detail::handler_traits<F>::is_async) {
    static_assert(sizeof(detail::coroutine_handlers_need_tendril_task_hpp<F>) > 0);
    if (options.fork_merge)
      detail::throw_invalid_stage("fork_merge is not supported for coroutine handlers yet");
    if (options.ordered)
      detail::throw_invalid_stage("ordered is not supported for coroutine handlers yet");
    if (options.multi_proc)
      detail::throw_invalid_stage("multi_proc takes plain handlers, not coroutines");
    spec->async_node = detail::async_node_factory<In, Out>(std::move(handler));
  } else {
    constexpr bool accepts_errors = detail::handler_traits<F>::accepts_errors;
    if (!options.multi_proc && !options.fork_merge) {  // the common stage: no std::function
      spec->direct_node = detail::direct_node_factory<In, Out>(std::move(handler), accepts_errors);
    } else {
      spec->handlers.push_back(detail::stage_handler<In, Out>(std::move(handler), options));
      spec->accepts_errors.push_back(accepts_errors);
    }
  }
  spec->options = std::move(options);
  return Stage<In, Out>(std::move(spec));
}

// A one-worker stage with default options.
template <class F>
auto work_pool(F handler) {
  return work_pool({}, std::move(handler));
}

// A stage with one worker per handler: each item goes to one of them, or, with fork_merge, to
// all of them, and their results are merged in the order the handlers are given.
template <class F, class... Fs>
auto mix_pool(MixOptions<detail::handler_input_t<F>, detail::handler_output_t<F>> options, F first,
              Fs... rest) {
  using In = detail::handler_input_t<F>;
  using Out = detail::handler_output_t<F>;
  static_assert((std::is_same_v<detail::handler_input_t<Fs>, In> && ...),
                "every handler of a mix_pool must take the same item type");
  static_assert((std::is_same_v<detail::handler_output_t<Fs>, Out> && ...),
                "every handler of a mix_pool must return the same item type");
  static_assert(
      !detail::handler_traits<F>::is_async && (!detail::handler_traits<Fs>::is_async && ...),
      "mix_pool takes plain handlers; use work_pool for a coroutine handler");
  PoolOptions<In, Out> pool{.buffer = options.buffer,
                            .retries = options.retries,
                            .num_workers = 1 + sizeof...(Fs),
                            .fork_merge = std::move(options.fork_merge),
                            .ordered = options.ordered,
                            .on_error = options.on_error,
                            .dead_letter = std::move(options.dead_letter),
                            .name = std::move(options.name),
                            .multi_proc = options.multi_proc,
                            .timeout = options.timeout,
                            .memory_limit = options.memory_limit};
  detail::validate(pool);
  auto spec = std::make_shared<detail::StageSpec<In, Out>>();
  spec->options = std::move(pool);
  spec->handlers.push_back(detail::stage_handler<In, Out>(std::move(first), spec->options));
  spec->accepts_errors.push_back(detail::handler_traits<F>::accepts_errors);
  (spec->handlers.push_back(detail::stage_handler<In, Out>(std::move(rest), spec->options)), ...);
  (spec->accepts_errors.push_back(detail::handler_traits<Fs>::accepts_errors), ...);
  return Stage<In, Out>(std::move(spec));
}

}  // namespace tendril
