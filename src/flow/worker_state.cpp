#include "tendril/flow/worker_state.hpp"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace tendril {

namespace {

constexpr const char* kStatusNames[] = {"pending",   "running", "idle",     "paused",
                                        "completed", "failed",  "cancelled"};

}  // namespace

Json to_json(const ExecutionRecord& record) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(record.time.time_since_epoch()).count();
  return {{"time_us", micros},
          {"routine", record.routine},
          {"action", record.action},
          {"details", record.details}};
}

const char* to_string(WorkerStatus status) noexcept {
  return kStatusNames[static_cast<int>(status)];
}

std::optional<WorkerStatus> worker_status_from(std::string_view name) noexcept {
  for (int i = 0; i < 7; ++i)
    if (name == kStatusNames[i]) return static_cast<WorkerStatus>(i);
  return std::nullopt;
}

namespace {

// One history record as kept. A completion's job id and duration are fields rather than a JSON
// object, and a full history overwrites its oldest record in place, so that recording a
// completion reuses that record's buffers and allocates nothing once the history is full.
struct StoredRecord {
  std::chrono::system_clock::time_point time;
  std::string routine;
  std::string action;
  std::string job_id;            // a completion's: details {"job_id", "duration_us"}
  std::int64_t duration_us = 0;  // a completion's
  Json details;                  // any other record's

  ExecutionRecord record() const {
    if (job_id.empty()) return {time, routine, action, details};
    Json completion(Json::value_t::object);
    completion.emplace("job_id", job_id);
    completion.emplace("duration_us", duration_us);
    return {time, routine, action, std::move(completion)};
  }
};

// The last `limit` records, oldest first: a ring that grows to `limit`, then overwrites.
class HistoryRing {
 public:
  explicit HistoryRing(std::size_t limit) : limit_(std::max<std::size_t>(limit, 1)) {}

  std::size_t limit() const noexcept { return limit_; }
  std::size_t size() const noexcept { return records_.size(); }
  std::uint64_t dropped() const noexcept { return dropped_; }

  // The slot for a new record: a fresh one, or the oldest one's to overwrite.
  StoredRecord& next() {
    if (records_.size() < limit_) return records_.emplace_back();
    StoredRecord& oldest = records_[oldest_];
    oldest_ = (oldest_ + 1) % limit_;
    ++dropped_;
    return oldest;
  }
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < records_.size(); ++i) f(records_[(oldest_ + i) % records_.size()]);
  }
  // Replaces every record (the newest `limit` of `records`, oldest first) and the dropped count.
  void assign(std::vector<StoredRecord> records, std::uint64_t dropped) {
    if (records.size() > limit_)
      records.erase(records.begin(), records.end() - static_cast<std::ptrdiff_t>(limit_));
    records_ = std::move(records);
    oldest_ = 0;
    dropped_ = dropped;
  }

 private:
  std::size_t limit_;
  std::vector<StoredRecord> records_;
  std::size_t oldest_ = 0;  // index of the oldest record once full
  std::uint64_t dropped_ = 0;
};

}  // namespace

struct FlowWorkerState::Records {
  explicit Records(std::size_t limit) : history(limit) {}
  mutable std::mutex mutex;  // everything below but the atomics
  std::unordered_map<std::string, Json> routine_states;
  HistoryRing history;
  std::atomic<WorkerStatus> status{WorkerStatus::pending};
  std::atomic<std::uint64_t> jobs_processed{0};
  std::atomic<std::uint64_t> jobs_failed{0};
};

FlowWorkerState::FlowWorkerState(std::string flow_id, std::string worker_id,
                                 std::size_t history_limit)
    : WorkerState(SharedWorker{}, std::move(flow_id), std::move(worker_id)),
      records_(std::make_unique<Records>(history_limit)) {}

FlowWorkerState::FlowWorkerState(FlowWorkerState&&) noexcept = default;
FlowWorkerState& FlowWorkerState::operator=(FlowWorkerState&&) noexcept = default;
FlowWorkerState::~FlowWorkerState() = default;

std::unordered_map<std::string, Json> FlowWorkerState::routine_states() const {
  std::lock_guard lock(records_->mutex);
  return records_->routine_states;
}

std::optional<Json> FlowWorkerState::get_routine_state(std::string_view routine_id) const {
  std::lock_guard lock(records_->mutex);
  auto it = records_->routine_states.find(std::string(routine_id));
  if (it == records_->routine_states.end()) return std::nullopt;
  return it->second;
}

void FlowWorkerState::update_routine_state(std::string_view routine_id, Json value) {
  std::lock_guard lock(records_->mutex);
  records_->routine_states.insert_or_assign(std::string(routine_id), std::move(value));
}

Json FlowWorkerState::update_routine_state(std::string_view routine_id,
                                           const std::function<void(Json&)>& change) {
  std::lock_guard lock(records_->mutex);
  auto [it, inserted] =
      records_->routine_states.try_emplace(std::string(routine_id), Json::object());
  Json value = it->second;  // all or nothing: a `change` that throws leaves the state as it was
  try {
    change(value);
  } catch (...) {
    if (inserted) records_->routine_states.erase(it);
    throw;
  }
  it->second = std::move(value);
  return it->second;
}

bool FlowWorkerState::erase_routine_state(std::string_view routine_id) {
  std::lock_guard lock(records_->mutex);
  return records_->routine_states.erase(std::string(routine_id)) > 0;
}

WorkerStatus FlowWorkerState::status() const noexcept { return records_->status.load(); }
void FlowWorkerState::set_status(WorkerStatus status) noexcept { records_->status.store(status); }

std::uint64_t FlowWorkerState::jobs_processed() const noexcept {
  return records_->jobs_processed.load(std::memory_order_relaxed);
}
std::uint64_t FlowWorkerState::jobs_failed() const noexcept {
  return records_->jobs_failed.load(std::memory_order_relaxed);
}
void FlowWorkerState::count_job(bool failed) noexcept {
  records_->jobs_processed.fetch_add(1, std::memory_order_relaxed);
  if (failed) records_->jobs_failed.fetch_add(1, std::memory_order_relaxed);
}

std::vector<ExecutionRecord> FlowWorkerState::execution_history() const {
  std::lock_guard lock(records_->mutex);
  std::vector<ExecutionRecord> history;
  history.reserve(records_->history.size());
  records_->history.for_each([&](const StoredRecord& r) { history.push_back(r.record()); });
  return history;
}

std::uint64_t FlowWorkerState::history_dropped() const {
  std::lock_guard lock(records_->mutex);
  return records_->history.dropped();
}

void FlowWorkerState::record_execution(std::string routine, std::string action, Json details) {
  const auto now = std::chrono::system_clock::now();
  std::lock_guard lock(records_->mutex);
  StoredRecord& r = records_->history.next();
  r.time = now;
  r.routine = std::move(routine);
  r.action = std::move(action);
  r.job_id.clear();
  r.details = std::move(details);
}

void FlowWorkerState::record_completion(const std::string& routine, const std::string& job_id,
                                        std::int64_t duration_us,
                                        std::chrono::system_clock::time_point at) {
  std::lock_guard lock(records_->mutex);
  StoredRecord& r = records_->history.next();
  r.time = at;
  r.routine.assign(routine);  // into the buffers the overwritten record had
  r.action.assign("completed");
  r.job_id.assign(job_id);
  r.duration_us = duration_us;
  r.details = nullptr;
}

Json FlowWorkerState::to_json() const {
  Json out = {{"worker_id", worker_id()},
              {"flow_id", flow_id()},
              {"status", to_string(status())},
              {"jobs_processed", jobs_processed()},
              {"jobs_failed", jobs_failed()}};
  std::lock_guard lock(records_->mutex);
  Json states = Json::object();
  for (const auto& [id, value] : records_->routine_states) states[id] = value;
  out["routine_states"] = std::move(states);
  Json history = Json::array();
  records_->history.for_each(
      [&](const StoredRecord& r) { history.push_back(tendril::to_json(r.record())); });
  out["history"] = std::move(history);
  out["history_dropped"] = records_->history.dropped();
  return out;
}

Result<void> FlowWorkerState::load(const Json& saved) {
  auto invalid = [](std::string message) {
    return std::unexpected(Error{.kind = ErrorKind::invalid, .message = std::move(message)});
  };
  std::string bad_field;
  auto field = [&](const char* name, Json::value_t type) -> const Json* {
    auto it = saved.find(name);
    if (it == saved.end()) return nullptr;
    const bool ok =
        it->type() == type || (type == Json::value_t::number_unsigned && it->is_number_unsigned());
    if (!ok && bad_field.empty())
      bad_field = std::string("WorkerState::load: '") + name + "' must be " +
                  Json(type).type_name() + ", not " + it->type_name();
    return ok ? &*it : nullptr;
  };
  if (!saved.is_object())
    return invalid(std::string("WorkerState::load: expected an object, not ") + saved.type_name());
  const Json* states = field("routine_states", Json::value_t::object);
  const Json* processed = field("jobs_processed", Json::value_t::number_unsigned);
  const Json* failed = field("jobs_failed", Json::value_t::number_unsigned);
  const Json* history = field("history", Json::value_t::array);
  if (!bad_field.empty()) return invalid(bad_field);
  std::vector<StoredRecord> restored;
  if (history) {
    for (std::size_t i = 0; i < history->size(); ++i) {
      const Json& r = (*history)[i];
      if (!r.is_object() || !r.contains("routine") || !r.contains("action") ||
          !r["routine"].is_string() || !r["action"].is_string())
        return invalid("WorkerState::load: history[" + std::to_string(i) +
                       "] needs string 'routine' and 'action'");
      std::chrono::system_clock::time_point time{};
      if (auto t = r.find("time_us"); t != r.end() && t->is_number_integer())
        time += std::chrono::microseconds(t->get<std::int64_t>());
      restored.push_back({.time = time,
                          .routine = r["routine"].get<std::string>(),
                          .action = r["action"].get<std::string>(),
                          .job_id = {},
                          .duration_us = 0,
                          .details = r.value("details", Json())});
    }
  }
  std::lock_guard lock(records_->mutex);
  if (states) {
    records_->routine_states.clear();
    for (const auto& [id, value] : states->items()) records_->routine_states[id] = value;
  }
  if (processed) records_->jobs_processed = processed->get<std::uint64_t>();
  if (failed) records_->jobs_failed = failed->get<std::uint64_t>();
  if (history) records_->history.assign(std::move(restored), records_->history.dropped());
  return {};
}

}  // namespace tendril
