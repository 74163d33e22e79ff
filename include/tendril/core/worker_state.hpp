// tendril/core/worker_state.hpp — state that one worker keeps across everything it handles.
//
// Typed values (`get`/`set`/`get_or_create`: connections, caches, anything, move-only too) that
// live as long as the worker, its identity, and the stop request of what it runs.
//
// - A pipeline stage's worker owns one `WorkerState` for the whole run; only that worker touches
//   it, so it takes no lock. Not thread-safe.
// - A flow's worker has a `FlowWorkerState` (tendril/flow/worker_state.hpp), which is a
//   `WorkerState` that every routine of the flow reaches from any pool thread: there the typed
//   store's map is locked (recursively), and every member is thread-safe. The values in it are
//   the user's to protect.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>

namespace tendril {

class WorkerState {
 public:
  // A pipeline stage's worker: `worker_id()` is "<stage>#<index>".
  WorkerState(std::string stage_name, std::size_t worker_index, std::stop_token stop = {});

  WorkerState(WorkerState&&) noexcept;
  WorkerState& operator=(WorkerState&&) noexcept;
  ~WorkerState();

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
    values_.insert_or_assign(std::move(key), StoredValue{std::move(owned), &typeid(T)});
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

  const std::string& worker_id() const noexcept { return worker_id_; }
  // Which worker this is within its pipeline stage (0-based); 0 in a flow.
  std::size_t worker_index() const noexcept { return worker_index_; }
  // The pipeline stage's name; empty in a flow.
  const std::string& stage_name() const noexcept { return stage_name_; }
  // The flow this worker runs; empty in a pipeline.
  const std::string& flow_id() const noexcept { return flow_id_; }

  // True once the run is being cancelled; a long handler may poll it and return early.
  bool stop_requested() const noexcept { return stop_.stop_requested(); }
  std::stop_token stop_token() const noexcept { return stop_; }

 protected:
  // A flow's worker: shared by the flow's routines, so the typed store is locked.
  struct SharedWorker {};
  WorkerState(SharedWorker, std::string flow_id, std::string worker_id);

 private:
  struct StoredValue {
    std::shared_ptr<void> value;
    const std::type_info* type;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  static void check_type(std::string_view key, const std::type_info& stored,
                         const std::type_info& wanted);
  // Locks the typed store in a flow worker (recursively); a no-op lock in a pipeline worker.
  std::unique_lock<std::recursive_mutex> lock_values() const {
    return values_mutex_ ? std::unique_lock(*values_mutex_)
                         : std::unique_lock<std::recursive_mutex>();
  }

  std::unordered_map<std::string, StoredValue, KeyHash, std::equal_to<>> values_;
  std::string stage_name_;
  std::size_t worker_index_ = 0;
  std::string worker_id_;
  std::string flow_id_;
  std::stop_token stop_;
  std::unique_ptr<std::recursive_mutex> values_mutex_;  // a flow worker's only
};

}  // namespace tendril
