// tendril/worker_state.hpp — state that one worker keeps across the items it handles.
//
// Each worker of each stage owns exactly one `WorkerState` for the whole run: a value stored
// while handling one item is there for that worker's next item, and never visible to another
// worker. Use it for connections, caches, counters. Values may be move-only (a socket, a
// unique_ptr). Not thread-safe: only its own worker touches it, and it never needs to share.
#pragma once

#include <cstddef>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <typeinfo>
#include <unordered_map>
#include <utility>

namespace tendril {

class WorkerState {
 public:
  WorkerState(std::string stage_name, std::size_t worker_index, std::stop_token stop = {});

  // The value stored under `key`, or nullptr when there is none. Throws std::logic_error naming
  // the key and both types when the stored value is of another type.
  template <class T>
  T* get(std::string_view key) {
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
    values_.insert_or_assign(std::move(key), Slot{std::move(owned), &typeid(T)});
    return ref;
  }

  // The value under `key`; when there is none, stores `make()` first. `make` runs at most once
  // per key and worker: the way to open a connection once per worker.
  template <class Factory>
  auto& get_or_create(std::string_view key, Factory&& make) {
    using T = std::decay_t<decltype(make())>;
    if (T* existing = get<T>(key)) return *existing;
    return set<T>(std::string(key), make());
  }

  bool contains(std::string_view key) const { return values_.find(key) != values_.end(); }
  bool erase(std::string_view key);
  std::size_t size() const noexcept { return values_.size(); }

  // Which worker this is: 0-based within its stage.
  std::size_t worker_index() const noexcept { return worker_index_; }
  const std::string& stage_name() const noexcept { return stage_name_; }

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
  static void check_type(std::string_view key, const std::type_info& stored,
                         const std::type_info& wanted);

  std::unordered_map<std::string, Slot, KeyHash, std::equal_to<>> values_;
  std::string stage_name_;
  std::size_t worker_index_;
  std::stop_token stop_;
};

}  // namespace tendril
