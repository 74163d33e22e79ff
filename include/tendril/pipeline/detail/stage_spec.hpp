// tendril/pipeline/detail/stage_spec.hpp — a stage's options and its immutable description.
//
// PoolOptions and MixOptions are public (users name them through <tendril/pipeline/stage.hpp>);
// StageSpec is what a run reads to build a stage's workers. The stage nodes include this header,
// and <tendril/pipeline/stage.hpp> includes the nodes, so that work_pool can build a node typed
// on its handler.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/pipeline/detail/handler_traits.hpp"

namespace tendril {

// What a stage does with an item that failed every attempt. Every policy counts the failure
// and calls `dead_letter` when one is set.
enum class OnError {
  drop,       // the seed's default: the item goes no further; run() still succeeds
  fail_fast,  // the run stops and run() returns this item's error
  pass,       // the error travels downstream as a value (see Pipeline::iter_results)
};

// Options of work_pool. Designated initializers must follow this order.
template <class In, class Out>
struct PoolOptions {
  std::size_t buffer = 1;       // input queue capacity: the backpressure bound
  int retries = 1;              // total attempts per item (1 = no retry)
  std::size_t num_workers = 1;  // concurrent workers, each with its own WorkerState
  // When set, every worker gets every item and this merges their results (in worker order).
  std::function<Out(std::vector<Out>)> fork_merge = {};
  bool ordered = false;  // pass items on in input order even with several workers
  OnError on_error = OnError::drop;
  std::function<void(const In&, const Error&)> dead_letter = {};  // sees each failed item
  std::string name = {};  // for metrics and errors; "stage<N>" when empty
  // The seed's multi_proc: each worker a child process (<tendril/pipeline/process.hpp>), its
  // handler made by process_handler(). A crash costs one attempt and one worker (restarted).
  bool multi_proc = false;
  std::chrono::milliseconds timeout{0};  // multi_proc: an attempt longer than this is killed
  std::size_t memory_limit = 0;          // multi_proc: bytes of address space per worker (0: none)
};

// Options of mix_pool: as PoolOptions, with one worker per handler instead of num_workers.
template <class In, class Out>
struct MixOptions {
  std::size_t buffer = 1;
  int retries = 1;
  std::function<Out(std::vector<Out>)> fork_merge = {};
  bool ordered = false;
  OnError on_error = OnError::drop;
  std::function<void(const In&, const Error&)> dead_letter = {};
  std::string name = {};
  bool multi_proc = false;
  std::chrono::milliseconds timeout{0};
  std::size_t memory_limit = 0;
};

namespace detail {

class NodeBase;
class InletBase;
class RunContext;

// A stage as built for one run, and where its input goes.
struct BuiltNode {
  std::unique_ptr<NodeBase> node;
  InletBase* inlet;
};

// Builds a coroutine stage for one run (made by <tendril/task.hpp>).
template <class In, class Out>
using AsyncNodeFactory =
    std::function<BuiltNode(const PoolOptions<In, Out>&, std::string, InletBase&, RunContext&)>;

// Defined by <tendril/task.hpp>; an "incomplete type" error naming it means a coroutine
// handler was given to work_pool without including <tendril/task.hpp>.
template <class F>
struct coroutine_handlers_need_tendril_task_hpp;
template <class In, class Out, class F>
AsyncNodeFactory<In, Out> async_node_factory(F handler);

template <class In, class Out>
struct StageSpec;

// Builds a plain stage for one run whose workers call their handler directly, not through
// std::function (made by work_pool, which knows the handler's type).
template <class In, class Out>
using DirectNodeFactory = std::function<BuiltNode(const std::shared_ptr<const StageSpec<In, Out>>&,
                                                  std::string, InletBase&, RunContext&)>;

// Everything a run needs to build a stage's workers. Immutable once made.
template <class In, class Out>
struct StageSpec {
  PoolOptions<In, Out> options;
  std::vector<ErasedHandler<In, Out>> handlers;  // worker i runs handlers[i % size]
  std::vector<bool> accepts_errors;              // per handler
  AsyncNodeFactory<In, Out> async_node;          // set instead for a coroutine stage
  DirectNodeFactory<In, Out> direct_node;        // when set, builds the node instead of handlers
  bool fork() const { return static_cast<bool>(options.fork_merge); }
};

void throw_invalid_stage(const std::string& what);

template <class In, class Out>
void validate(const PoolOptions<In, Out>& o) {
  if (o.buffer < 1) throw_invalid_stage("buffer must be at least 1, got 0");
  if (o.retries < 1)
    throw_invalid_stage("retries counts total attempts and must be at least 1, got " +
                        std::to_string(o.retries));
  if (o.num_workers < 1) throw_invalid_stage("num_workers must be at least 1, got 0");
  if constexpr (!std::is_copy_constructible_v<In>) {
    if (o.retries > 1) throw_invalid_stage("retries > 1 needs a copyable item type");
    if (o.dead_letter) throw_invalid_stage("dead_letter needs a copyable item type");
    if (o.fork_merge && o.num_workers > 1)
      throw_invalid_stage("fork_merge over several workers needs a copyable item type");
  }
}

}  // namespace detail

}  // namespace tendril
