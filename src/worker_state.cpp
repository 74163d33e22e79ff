#include "tendril/worker_state.hpp"

#include <stdexcept>

#include "tendril/detail/type_name.hpp"

namespace tendril {

WorkerState::WorkerState(std::string stage_name, std::size_t worker_index, std::stop_token stop)
    : stage_name_(std::move(stage_name)), worker_index_(worker_index), stop_(std::move(stop)) {}

bool WorkerState::erase(std::string_view key) {
  auto it = values_.find(key);
  if (it == values_.end()) return false;
  values_.erase(it);
  return true;
}

void WorkerState::check_type(std::string_view key, const std::type_info& stored,
                             const std::type_info& wanted) {
  if (stored == wanted) return;
  throw std::logic_error("WorkerState: key '" + std::string(key) + "' holds " +
                         detail::demangle(stored) + ", not " + detail::demangle(wanted));
}

}  // namespace tendril
