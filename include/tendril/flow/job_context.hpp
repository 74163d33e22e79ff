// tendril/flow/job_context.hpp — one job: the work that one `Runtime::post` caused.
//
// A job is born `pending` when posted, becomes `running` when its first routine starts, and ends
// `completed` once every piece of work it caused has finished (every item it put in a slot was
// taken, and every activation that took one has ended, including those reached through emit),
// `failed` when an error strategy gave up on it, or `cancelled` when its work was dropped
// (shutdown without draining, or its worker stopped). Every member is thread-safe: the routines
// a job reaches may run at once on several threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/flow/worker_state.hpp"

namespace tendril {

enum class JobStatus { pending, running, completed, failed, cancelled };
const char* to_string(JobStatus status) noexcept;

using TraceEntry = ExecutionRecord;  // time, routine, action, details

namespace detail {
struct JobAccess;
}

class JobContext {
 public:
  using Clock = std::chrono::steady_clock;

  JobContext(std::string job_id, std::string flow_id, std::string worker_id, Json metadata = {});
  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;

  const std::string& job_id() const noexcept { return job_id_; }
  const std::string& flow_id() const noexcept { return flow_id_; }
  const std::string& worker_id() const noexcept { return worker_id_; }
  const Json& metadata() const noexcept;  // fixed at post; an empty object when none
  JobStatus status() const;
  bool finished() const;

  // Data shared by every routine of the job. `get_data` is null when the key is absent.
  Json get_data(std::string_view key) const;
  void set_data(std::string key, Json value);
  Json data() const;  // a copy of all of it

  // Data one routine keeps for this job, apart from every other routine's (no key mangling:
  // routine "a_b" key "c" and routine "a" key "b_c" never meet).
  Json get_routine_data(std::string_view routine, std::string_view key) const;
  void set_routine_data(std::string_view routine, std::string key, Json value);
  Json routine_data(std::string_view routine) const;  // an object; empty when none

  // Appends to the job's trace; the framework traces each routine's start, end, errors, retries.
  // Keeps the first `kTraceLimit` entries and counts the rest.
  void trace(std::string routine, std::string action, Json details = {});
  std::vector<TraceEntry> trace_entries() const;
  static constexpr std::size_t kTraceLimit = 10'000;

  // The error that failed the job, if it failed (its `routine` names where); every error
  // recorded, as JSON (CONTINUE records too).
  std::optional<Error> error() const;
  std::vector<Json> errors() const;

  Clock::time_point created_at() const noexcept { return created_; }
  std::optional<Clock::time_point> started_at() const;
  std::optional<Clock::time_point> finished_at() const;

  // Blocks until the job has finished or `timeout` passed; true when finished.
  bool wait(std::chrono::milliseconds timeout) const;

  Json to_json() const;

 private:
  friend struct detail::JobAccess;

  const std::string job_id_;
  const std::string flow_id_;
  const std::string worker_id_;
  const Json metadata_;  // null when none (no allocation per job)
  const Clock::time_point created_;

  mutable std::mutex mutex_;
  mutable std::condition_variable finished_cv_;
  JobStatus status_ = JobStatus::pending;  // guarded by mutex_, like everything below
  Json data_;  // null until first written (an object then), as is routine_data_
  Json routine_data_;
  // A trace entry as kept: the runtime's own entries (a start's attempt, an end's duration)
  // carry a number under a fixed key rather than a JSON object, built when the trace is read.
  struct Step {
    std::chrono::system_clock::time_point time;
    std::string routine;
    std::string action;
    const char* number_key = nullptr;  // details {number_key: number} when set
    std::int64_t number = 0;
    Json details;  // otherwise
    TraceEntry entry() const;
  };
  // A new entry at the trace's end, to be filled in place; null past kTraceLimit (counted).
  // Under mutex_ held by the caller.
  Step* next_step();
  std::vector<Step> trace_;
  std::uint64_t trace_dropped_ = 0;
  std::optional<Error> error_;
  std::vector<Json> errors_;
  std::optional<Clock::time_point> started_;
  std::optional<Clock::time_point> finished_;
  bool announced_ = false;  // finished, and the runtime's bookkeeping for it done
  bool failing_ = false;    // an error strategy gave up; ends `failed` when its work is done
  // Not under mutex_: items in slots + activations running for the job (the lock is taken only
  // when it reaches 0), and whether it left `pending` (the lock only for the first start).
  std::atomic<std::int64_t> outstanding_{0};
  std::atomic<bool> started_flag_{false};
};

// The job whose activation is running on this thread (also inside routines reached through
// emit), or nullptr outside of any routine's logic.
JobContext* current_job() noexcept;

}  // namespace tendril
