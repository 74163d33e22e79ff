// tendril/pipeline/detail/run.hpp — one run of a pipeline: builds its stages and source, runs them,
// ends it.
//
// A RunCore lives for one run. start() starts its scheduler's threads, which pull the source
// and carry items through the stages; finish() joins them and reports. fail() on its context
// may be called from any thread at any time; everything else belongs to the thread that owns
// the run.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <typeindex>
#include <vector>

#include "tendril/core/scheduler.hpp"
#include "tendril/pipeline/detail/channel.hpp"
#include "tendril/pipeline/detail/run_context.hpp"
#include "tendril/pipeline/detail/source.hpp"
#include "tendril/pipeline/detail/stage_node.hpp"
#include "tendril/pipeline/metrics.hpp"

namespace tendril::detail {

// A stage description with its item types erased, so that a pipeline can hold a chain of them.
class StageSpecBase {
 public:
  using Built = BuiltNode;
  virtual ~StageSpecBase() = default;
  virtual std::type_index input_type() const = 0;
  virtual std::type_index output_type() const = 0;
  virtual const std::string& name() const = 0;
  // `downstream` must be an Inlet of output_type(); the pipeline's types guarantee it.
  virtual Built instantiate(std::string name, InletBase& downstream, RunContext& context) const = 0;
};

template <class In, class Out>
class ErasedStage final : public StageSpecBase {
 public:
  explicit ErasedStage(std::shared_ptr<const StageSpec<In, Out>> spec) : spec_(std::move(spec)) {}
  std::type_index input_type() const override { return typeid(In); }
  std::type_index output_type() const override { return typeid(Out); }
  const std::string& name() const override { return spec_->options.name; }
  Built instantiate(std::string name, InletBase& downstream, RunContext& context) const override {
    if (spec_->async_node)
      return spec_->async_node(spec_->options, std::move(name), downstream, context);
    if (spec_->direct_node) return spec_->direct_node(spec_, std::move(name), downstream, context);
    auto& out = static_cast<Inlet<Out>&>(downstream);
    if (spec_->fork())
      return built(std::make_unique<StageNode<In, Out, true>>(
          spec_, spec_->handlers, spec_->accepts_errors, std::move(name), out, context));
    return built(std::make_unique<StageNode<In, Out, false>>(
        spec_, spec_->handlers, spec_->accepts_errors, std::move(name), out, context));
  }

 private:
  template <class Node>
  static Built built(std::unique_ptr<Node> node) {
    InletBase* inlet = static_cast<Inlet<In>*>(node.get());
    return Built{std::move(node), inlet};
  }
  std::shared_ptr<const StageSpec<In, Out>> spec_;
};

using StageChain = std::vector<std::shared_ptr<const StageSpecBase>>;

class RunCore {
 public:
  RunCore(std::shared_ptr<SourceBase> source, const StageChain& stages, InletBase& sink);
  ~RunCore();
  RunCore(const RunCore&) = delete;
  RunCore& operator=(const RunCore&) = delete;

  RunContext& context() noexcept { return context_; }
  // Before start(): called once when the run has finished or stopped.
  void on_finished(std::function<void()> hook) { scheduler_->on_finished(std::move(hook)); }
  void start();
  // Waits for every thread and returns the metrics, or the error that ended the run.
  Result<Metrics> finish(std::optional<Metrics>& metrics_out);

 private:
  RunContext context_;
  std::vector<std::unique_ptr<NodeBase>> nodes_;
  // The source itself lives as long as the run: its cursor points into it (an owned container,
  // say), and the Pipeline that made the run may be a temporary, gone before the run ends.
  std::shared_ptr<SourceBase> source_owner_;
  std::unique_ptr<SourceRunnerBase> source_;
  std::unique_ptr<Scheduler> scheduler_;
  std::chrono::system_clock::time_point start_;
  std::chrono::steady_clock::time_point started_;
  bool finished_ = false;
};

// Runs of one pipeline that are under way, so that cancel() can reach them from any thread.
class RunRegistry {
 public:
  void add(RunContext* run);
  void remove(RunContext* run);
  bool cancel(const std::string& reason);  // Thread-safe; true when some run was cancelled.
  void set_last(const std::optional<Metrics>& metrics);
  std::optional<Metrics> last() const;

 private:
  mutable std::mutex mutex_;
  std::vector<RunContext*> active_;  // guarded by mutex_
  std::optional<Metrics> last_;      // guarded by mutex_
};

Error consumed_source_error();

}  // namespace tendril::detail
