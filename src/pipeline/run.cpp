#include "tendril/pipeline/detail/run.hpp"

#include <algorithm>

namespace tendril::detail {

RunCore::RunCore(std::shared_ptr<SourceBase> source, const StageChain& stages, InletBase& sink)
    : nodes_(stages.size()) {
  // Built from the end, so that each stage knows where its output goes.
  InletBase* downstream = &sink;
  std::size_t threads = 1;  // the source's
  for (std::size_t k = stages.size(); k-- > 0;) {
    std::string name =
        stages[k]->name().empty() ? "stage" + std::to_string(k + 1) : stages[k]->name();
    auto built = stages[k]->instantiate(std::move(name), *downstream, context_);
    threads += built.node->threads();
    downstream = built.inlet;
    nodes_[k] = std::move(built.node);
  }
  source_ = source->open(*downstream, context_);
  source_owner_ = std::move(source);
  scheduler_ = std::make_unique<Scheduler>(threads, context_.stop_token());
  for (std::size_t k = nodes_.size(); k-- > 0;) {  // threads look at the last stage first
    nodes_[k]->bind(*scheduler_);
    scheduler_->add_runner(&nodes_[k]->runner());
  }
  source_->bind(*scheduler_);
  scheduler_->set_source(source_.get());
  context_.on_abort([this] { scheduler_->stop(); });
}

RunCore::~RunCore() {
  if (!finished_) {
    context_.fail(Error{.kind = ErrorKind::cancelled, .message = "run abandoned"});
    scheduler_->wait();
    if (EventLoop* loop = context_.loop()) loop->finish();
  }
}

void RunCore::start() {
  start_ = std::chrono::system_clock::now();
  started_ = std::chrono::steady_clock::now();
  if (EventLoop* loop = context_.loop()) loop->start();
  scheduler_->start();
}

Result<Metrics> RunCore::finish(std::optional<Metrics>& metrics_out) {
  scheduler_->wait();
  if (EventLoop* loop = context_.loop()) loop->finish();
  finished_ = true;
  Metrics m;
  m.start = start_;
  m.stop = std::chrono::system_clock::now();
  m.duration = std::chrono::steady_clock::now() - started_;
  m.produced = source_->produced();
  for (auto& node : nodes_) {
    m.stages.push_back(node->metrics());
    m.failed += m.stages.back().failed;
  }
  m.processed = m.stages.empty() ? m.produced : m.stages.back().processed;
  metrics_out = m;
  if (auto error = context_.outcome()) return std::unexpected(std::move(*error));
  return m;
}

void RunRegistry::add(RunContext* run) {
  std::lock_guard lock(mutex_);
  active_.push_back(run);
}

void RunRegistry::remove(RunContext* run) {
  std::lock_guard lock(mutex_);
  active_.erase(std::remove(active_.begin(), active_.end(), run), active_.end());
}

bool RunRegistry::cancel(const std::string& reason) {
  std::lock_guard lock(mutex_);
  for (RunContext* run : active_) run->fail(Error{.kind = ErrorKind::cancelled, .message = reason});
  return !active_.empty();
}

void RunRegistry::set_last(const std::optional<Metrics>& metrics) {
  std::lock_guard lock(mutex_);
  last_ = metrics;
}

std::optional<Metrics> RunRegistry::last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

Error consumed_source_error() {
  return Error{.kind = ErrorKind::usage,
               .message =
                   "the pipeline's source is single-pass (an input-only range or a "
                   "generator) and an earlier run already consumed it; build a new "
                   "Pipeline, or use a container or forward range to run again"};
}

}  // namespace tendril::detail
