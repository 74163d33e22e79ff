#include "tendril/core/worker_state.hpp"

#include <stdexcept>

#include "tendril/core/error.hpp"
#include "tendril/core/type_name.hpp"

namespace tendril {

WorkerState::WorkerState(std::string stage_name, std::size_t worker_index, std::stop_token stop)
    : stage_name_(std::move(stage_name)),
      worker_index_(worker_index),
      worker_id_(stage_name_ + "#" + std::to_string(worker_index)),
      stop_(std::move(stop)) {}

WorkerState::WorkerState(SharedWorker, std::string flow_id, std::string worker_id)
    : worker_id_(std::move(worker_id)),
      flow_id_(std::move(flow_id)),
      values_mutex_(std::make_unique<std::recursive_mutex>()) {}

WorkerState::WorkerState(WorkerState&&) noexcept = default;
WorkerState& WorkerState::operator=(WorkerState&&) noexcept = default;
WorkerState::~WorkerState() = default;

bool WorkerState::contains(std::string_view key) const {
  auto lock = lock_values();
  return values_.find(key) != values_.end();
}

bool WorkerState::erase(std::string_view key) {
  auto lock = lock_values();
  auto it = values_.find(key);
  if (it == values_.end()) return false;
  values_.erase(it);
  return true;
}

std::size_t WorkerState::size() const {
  auto lock = lock_values();
  return values_.size();
}

void WorkerState::check_type(std::string_view key, const std::type_info& stored,
                             const std::type_info& wanted) {
  if (stored == wanted) return;
  throw UsageError("WorkerState: key '" + std::string(key) + "' holds " + detail::demangle(stored) +
                   ", not " + detail::demangle(wanted));
}

}  // namespace tendril
