// tendril/worker_state.hpp — state that one worker keeps across everything it handles.
//
// One class for both faces of Tendril:
// - a pipeline stage's worker owns one `WorkerState` for the whole run; only that worker touches
//   it, so it needs no locking;
// - a flow's worker (made by `Runtime::exec`) owns one `WorkerState` for as long as it runs; every
//   routine of the flow reaches it, from any pool thread, so every member is thread-safe there.
//
// Two stores: typed values (`get`/`set`/`get_or_create`: connections, caches, anything, move-only
// too) and JSON routine states (`get_routine_state`/`update_routine_state`: serialisable, saved
// and restored with `to_json`/`load`). The typed store's map is locked in a flow worker, the
// values in it are the user's to protect.
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
#include <stop_token>
#include <string>
#include <string_view>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace tendril {

using Json = nlohmann::json;

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

class WorkerState {
 public:
  // A pipeline stage's worker: `worker_id()` is "<stage>#<index>".
  WorkerState(std::string stage_name, std::size_t worker_index, std::stop_token stop = {});
  // A flow's worker: shared by the flow's routines, every member thread-safe.
  static WorkerState for_flow(std::string flow_id, std::string worker_id,
                              std::size_t history_limit = 1000);

  WorkerState(WorkerState&&) noexcept;
  WorkerState& operator=(WorkerState&&) noexcept;
  ~WorkerState();

  // --- typed values ---------------------------------------------------------------------------

  // The value stored under `key`, or nullptr when there is none. Throws std::logic_error naming
  // the key and both types when the stored value is of another type.
  template <class T>
  T* get(std::string_view key) {
    auto lock = lock_values();
    auto it = values_.find(key);
    if (it == values_.end()) return nullptr;
    check_type(it->first, *it->second.type, typeid(T));
    return static_cast<T*>(it->second.value.get());
  }

  // Stores `value` under `key`, replacing whatever was there.
  template <class T>
  T& set(std::string key, T value) {
    auto owned = std::make_shared<T>(std::move(value));
    T& ref = *owned;
    auto lock = lock_values();
    values_.insert_or_assign(std::move(key), Slot{std::move(owned), &typeid(T)});
    return ref;
  }

  // The value under `key`; when there is none, stores `make()` first. `make` runs at most once
  // per key and worker: the way to open a connection once per worker. In a flow worker, other
  // routines' typed-value calls wait while `make` runs (it may itself use this WorkerState).
  template <class Factory>
  auto& get_or_create(std::string_view key, Factory&& make) {
    using T = std::decay_t<decltype(make())>;
    auto lock = lock_values();
    if (T* existing = get<T>(key)) return *existing;
    return set<T>(std::string(key), make());
  }

  bool contains(std::string_view key) const;
  bool erase(std::string_view key);
  std::size_t size() const;

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
  // call back into this WorkerState.
  Json update_routine_state(std::string_view routine_id, const std::function<void(Json&)>& change);
  bool erase_routine_state(std::string_view routine_id);

  // --- identity, status, counters, history ------------------------------------------------------

  const std::string& worker_id() const noexcept { return worker_id_; }
  const std::string& flow_id() const noexcept { return flow_id_; }
  // Which worker this is within its pipeline stage (0-based); 0 in a flow.
  std::size_t worker_index() const noexcept { return worker_index_; }
  // The pipeline stage's name; empty in a flow.
  const std::string& stage_name() const noexcept { return stage_name_; }

  WorkerStatus status() const noexcept;
  void set_status(WorkerStatus status) noexcept;  // the framework's; users only read it

  std::uint64_t jobs_processed() const noexcept;
  std::uint64_t jobs_failed() const noexcept;
  void count_job(bool failed) noexcept;  // the framework's

  // The last `history_limit` records, oldest first, and how many older ones were let go.
  std::vector<ExecutionRecord> execution_history() const;
  std::uint64_t history_dropped() const;
  void record_execution(std::string routine, std::string action, Json details = {});

  // Everything but the typed values, as JSON; `load` restores routine states, counters and
  // history from it (identity and status stay this worker's own). A malformed document is a
  // std::invalid_argument naming the field.
  Json to_json() const;
  void load(const Json& saved);

  // True once the run is being cancelled; a long handler may poll it and return early.
  bool stop_requested() const noexcept { return stop_.stop_requested(); }
  std::stop_token stop_token() const noexcept { return stop_; }

 private:
  struct Slot {
    std::shared_ptr<void> value;
    const std::type_info* type;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct Records;  // routine states, history, counters, status, locks

  WorkerState(std::string flow_id, std::string worker_id, std::size_t history_limit);
  static void check_type(std::string_view key, const std::type_info& stored,
                         const std::type_info& wanted);
  // Locks the typed store in a flow worker (recursively); a no-op lock in a pipeline worker.
  std::unique_lock<std::recursive_mutex> lock_values() const;

  std::unordered_map<std::string, Slot, KeyHash, std::equal_to<>> values_;
  std::string stage_name_;
  std::size_t worker_index_ = 0;
  std::string worker_id_;
  std::string flow_id_;
  std::stop_token stop_;
  bool shared_ = false;  // a flow worker's: locks the typed store
  std::unique_ptr<Records> records_;
};

}  // namespace tendril
