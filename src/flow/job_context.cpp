#include "tendril/flow/job_context.hpp"

#include "job_access.hpp"

namespace tendril {

namespace {
thread_local JobContext* current_job_ = nullptr;

constexpr const char* kJobStatusNames[] = {"pending", "running", "completed", "failed",
                                           "cancelled"};

}  // namespace

namespace detail {
// Set by the runtime around each activation (see runtime.cpp).
JobContext*& current_job_slot() noexcept { return current_job_; }
}  // namespace detail

JobContext* current_job() noexcept { return current_job_; }

const char* to_string(JobStatus status) noexcept {
  return kJobStatusNames[static_cast<int>(status)];
}

JobContext::JobContext(std::string job_id, std::string flow_id, std::string worker_id,
                       Json metadata)
    : job_id_(std::move(job_id)),
      flow_id_(std::move(flow_id)),
      worker_id_(std::move(worker_id)),
      metadata_(std::move(metadata)),
      created_(Clock::now()) {}

const Json& JobContext::metadata() const noexcept {
  static const Json kNone = Json::object();
  return metadata_.is_null() ? kNone : metadata_;
}

JobStatus JobContext::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool JobContext::finished() const {
  std::lock_guard lock(mutex_);
  return announced_;
}

Json JobContext::get_data(std::string_view key) const {
  std::lock_guard lock(mutex_);
  if (!data_.is_object()) return {};
  auto it = data_.find(key);
  return it == data_.end() ? Json() : *it;
}

void JobContext::set_data(std::string key, Json value) {
  std::lock_guard lock(mutex_);
  data_[std::move(key)] = std::move(value);
}

Json JobContext::data() const {
  std::lock_guard lock(mutex_);
  return data_.is_object() ? data_ : Json::object();
}

Json JobContext::get_routine_data(std::string_view routine, std::string_view key) const {
  std::lock_guard lock(mutex_);
  if (!routine_data_.is_object()) return {};
  auto r = routine_data_.find(routine);
  if (r == routine_data_.end()) return {};
  auto it = r->find(key);
  return it == r->end() ? Json() : *it;
}

void JobContext::set_routine_data(std::string_view routine, std::string key, Json value) {
  std::lock_guard lock(mutex_);
  routine_data_[std::string(routine)][std::move(key)] = std::move(value);
}

Json JobContext::routine_data(std::string_view routine) const {
  std::lock_guard lock(mutex_);
  if (!routine_data_.is_object()) return Json::object();
  auto r = routine_data_.find(routine);
  return r == routine_data_.end() ? Json::object() : *r;
}

TraceEntry JobContext::Step::entry() const {
  if (!number_key) return {time, routine, action, details};
  Json d(Json::value_t::object);
  d.emplace(number_key, number);
  return {time, routine, action, std::move(d)};
}

void JobContext::trace(std::string routine, std::string action, Json details) {
  const auto now = std::chrono::system_clock::now();
  std::lock_guard lock(mutex_);
  if (Step* step = next_step())
    *step = {now, std::move(routine), std::move(action), nullptr, 0, std::move(details)};
}

JobContext::Step* JobContext::next_step() {
  if (trace_.size() >= kTraceLimit) {
    ++trace_dropped_;
    return nullptr;
  }
  if (trace_.empty()) trace_.reserve(8);  // a routine's start and end, for a short chain
  return &trace_.emplace_back();
}

std::vector<TraceEntry> JobContext::trace_entries() const {
  std::lock_guard lock(mutex_);
  std::vector<TraceEntry> entries;
  entries.reserve(trace_.size());
  for (const auto& step : trace_) entries.push_back(step.entry());
  return entries;
}

std::optional<Error> JobContext::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::vector<Json> JobContext::errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

std::optional<JobContext::Clock::time_point> JobContext::started_at() const {
  std::lock_guard lock(mutex_);
  return started_;
}

std::optional<JobContext::Clock::time_point> JobContext::finished_at() const {
  std::lock_guard lock(mutex_);
  return finished_;
}

bool JobContext::wait(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return finished_cv_.wait_for(lock, timeout, [&] { return announced_; });
}

Json JobContext::to_json() const {
  std::lock_guard lock(mutex_);
  Json trace = Json::array();
  for (const auto& step : trace_) trace.push_back(tendril::to_json(step.entry()));
  Json out = {{"job_id", job_id_},
              {"flow_id", flow_id_},
              {"worker_id", worker_id_},
              {"status", to_string(status_)},
              {"metadata", metadata()},
              {"data", data_.is_object() ? data_ : Json::object()},
              {"routine_data", routine_data_.is_object() ? routine_data_ : Json::object()},
              {"trace", std::move(trace)},
              {"trace_dropped", trace_dropped_},
              {"errors", errors_}};
  out["error"] = error_ ? Json(error_->describe()) : Json();
  return out;
}

namespace detail {

// Work is added only by a holder of some of the job's work (a post before its job is known, an
// activation emitting), so the count never climbs back from 0: like a reference count, an
// increment may be relaxed and the decrement that reaches 0 acquires every other's release.
void JobAccess::add_work(JobContext& job, std::int64_t n) {
  job.outstanding_.fetch_add(n, std::memory_order_relaxed);
}

JobAccess::End JobAccess::finish_work(JobContext& job, std::int64_t n) {
  if (job.outstanding_.fetch_sub(n, std::memory_order_acq_rel) > n) return End::none;
  End end = End::none;
  {
    std::lock_guard lock(job.mutex_);
    if (job.finished_) return End::none;
    if (job.failing_) {
      job.status_ = JobStatus::failed;
      end = End::failed;
    } else if (job.status_ == JobStatus::cancelled) {
      end = End::cancelled;
    } else {
      job.status_ = JobStatus::completed;
      end = End::completed;
    }
    job.finished_ = JobContext::Clock::now();
  }
  return end;
}

void JobAccess::announce(JobContext& job) {
  {
    std::lock_guard lock(job.mutex_);
    job.announced_ = true;
  }
  job.finished_cv_.notify_all();
}

bool JobAccess::start(JobContext& job) {
  if (job.started_flag_.load(std::memory_order_relaxed)) return false;  // each later routine
  std::lock_guard lock(job.mutex_);
  if (job.status_ != JobStatus::pending) return false;
  job.started_flag_.store(true, std::memory_order_relaxed);
  job.status_ = JobStatus::running;
  job.started_ = JobContext::Clock::now();
  return true;
}

void JobAccess::fail(JobContext& job, const Error& error) {
  std::lock_guard lock(job.mutex_);
  job.failing_ = true;
  if (!job.error_) job.error_ = error;
}

void JobAccess::cancel(JobContext& job) {
  std::lock_guard lock(job.mutex_);
  if (!job.failing_ && !job.finished_) job.status_ = JobStatus::cancelled;
}

void JobAccess::record_error(JobContext& job, Json error) {
  std::lock_guard lock(job.mutex_);
  job.errors_.push_back(std::move(error));
}

void JobAccess::trace(JobContext& job, const std::string& routine, const char* action,
                      const char* number_key, std::int64_t number,
                      std::chrono::system_clock::time_point at) {
  std::lock_guard lock(job.mutex_);
  // Filled in place: the runtime traces every routine's start and end, and a Step built
  // elsewhere and moved in twice cost more than the rest of the call.
  JobContext::Step* step = job.next_step();
  if (!step) return;
  step->time = at;
  step->routine.assign(routine);
  step->action.assign(action);
  step->number_key = number_key;
  step->number = number;
}

}  // namespace detail
}  // namespace tendril
