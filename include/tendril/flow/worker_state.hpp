// tendril/flow/worker_state.hpp — the state of one flow worker, shared by all its routines.
//
// A `FlowWorkerState` is a `WorkerState` (typed values, identity, stop request) made by
// `Runtime::exec` for one worker of a flow, alive as long as the Runtime. It adds what flows
// keep: JSON routine states (`get_routine_state`/`update_routine_state`, saved and restored
// with `to_json`/`load`), the worker's status, its job counters and a bounded execution
// history. Every routine of the flow reaches it from any pool thread: every member is
// thread-safe. Status, counters and history are the runtime's to write; users read them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/core/worker_state.hpp"
#include "tendril/flow/json.hpp"

namespace tendril {

namespace detail {
struct FlowWorkerControl;
}  // namespace detail

// Where a worker is in its life. A flow worker is `running` while it handles work, `idle` while
// it waits for some, `paused` while dispatching is held, and ends `completed` (drained by
// shutdown), `failed` (an error strategy stopped it) or `cancelled` (shut down without draining).
enum class WorkerStatus { pending, running, idle, paused, completed, failed, cancelled };
const char* to_string(WorkerStatus status) noexcept;
std::optional<WorkerStatus> worker_status_from(std::string_view name) noexcept;

// One entry of a worker's execution history (and of a job's trace).
struct ExecutionRecord {
  std::chrono::system_clock::time_point time;
  std::string routine;
  std::string action;  // "completed", "failed", "retried", "skipped", "error_continued", ...
  Json details;
};
// {"time_us": <microseconds since the epoch>, "routine": ..., "action": ..., "details": ...}
Json to_json(const ExecutionRecord& record);

class FlowWorkerState : public WorkerState {
 public:
  // Starts `pending`; keeps the last `history_limit` (at least 1) execution records.
  FlowWorkerState(std::string flow_id, std::string worker_id, std::size_t history_limit = 1000);
  FlowWorkerState(FlowWorkerState&&) noexcept;
  FlowWorkerState& operator=(FlowWorkerState&&) noexcept;
  ~FlowWorkerState();

  // --- JSON routine states ----------------------------------------------------------------------

  // A copy of every routine's state: routine id -> JSON value.
  std::unordered_map<std::string, Json> routine_states() const;
  // A copy of the state stored for `routine_id`, or nullopt.
  std::optional<Json> get_routine_state(std::string_view routine_id) const;
  // Replaces the state of `routine_id`.
  void update_routine_state(std::string_view routine_id, Json value);
  // Atomic read-modify-write: `change` gets the current value ({} when none) and edits it in
  // place while no other thread can read or write any routine state of this worker. Returns the
  // new value. All or nothing: when `change` throws, the state stays as it was. `change` must not
  // call back into this FlowWorkerState.
  Json update_routine_state(std::string_view routine_id, const std::function<void(Json&)>& change);
  bool erase_routine_state(std::string_view routine_id);

  // --- status, counters, history (written by the runtime) ---------------------------------------

  WorkerStatus status() const noexcept;
  std::uint64_t jobs_processed() const noexcept;
  std::uint64_t jobs_failed() const noexcept;
  // The last `history_limit` records, oldest first, and how many older ones were let go.
  std::vector<ExecutionRecord> execution_history() const;
  std::uint64_t history_dropped() const;

  // Everything but the typed values, as JSON; `load` restores routine states, counters and
  // history from it (identity and status stay this worker's own). A malformed document is an
  // `invalid` Error naming the field, and changes nothing.
  Json to_json() const;
  Result<void> load(const Json& saved);

 private:
  friend struct detail::FlowWorkerControl;
  void set_status(WorkerStatus status) noexcept;
  void count_job(bool failed) noexcept;
  void record_execution(std::string routine, std::string action, Json details = {});
  // record_execution(routine, "completed", {{"job_id", job_id}, {"duration_us", duration_us}}),
  // without building the details (they are built when the history is read); `at` is when it
  // completed.
  void record_completion(const std::string& routine, const std::string& job_id,
                         std::int64_t duration_us, std::chrono::system_clock::time_point at);

  struct Records;  // routine states, history, counters, status, their lock
  std::unique_ptr<Records> records_;
};

}  // namespace tendril
