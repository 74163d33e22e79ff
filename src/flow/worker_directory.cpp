#include "worker_directory.hpp"

#include "names.hpp"
#include "unexpected.hpp"

namespace tendril::detail {

using detail::unexpected_error;

std::string WorkerDirectory::next_id(const std::string& flow_id) {
  std::lock_guard lock(mutex_);
  return flow_id + "#" + std::to_string(++counter_);
}

FlowWorker& WorkerDirectory::add(std::unique_ptr<FlowWorker> worker) {
  std::lock_guard lock(mutex_);
  FlowWorker& added = *worker;
  running_by_name_[added.name] = &added;
  by_id_[added.state.worker_id()] = &added;
  workers_.push_back(std::move(worker));
  return added;
}

Result<FlowWorker*> WorkerDirectory::find(std::string_view flow_name, std::string_view worker_id,
                                          const FlowRegistry& registry) const {
  std::lock_guard lock(mutex_);
  if (!worker_id.empty()) {
    auto it = by_id_.find(worker_id);
    if (it == by_id_.end())
      return unexpected_error(ErrorKind::not_found, "no worker '" + std::string(worker_id) + "'");
    if (it->second->name != flow_name)
      return unexpected_error(ErrorKind::invalid, "worker '" + std::string(worker_id) +
                                                      "' runs flow '" + it->second->name +
                                                      "', not '" + std::string(flow_name) + "'");
    return it->second;
  }
  auto it = running_by_name_.find(flow_name);
  if (it != running_by_name_.end()) return it->second;
  if (registry.get(flow_name))
    return unexpected_error(ErrorKind::stopped, "flow '" + std::string(flow_name) +
                                                    "' has no running worker: call exec(\"" +
                                                    std::string(flow_name) + "\") first");
  return unexpected_error(ErrorKind::not_found,
                          "no flow '" + std::string(flow_name) +
                              "' (registered: " + join_names(registry.names()) + ")");
}

FlowWorker* WorkerDirectory::by_id(std::string_view worker_id) const {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(worker_id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<std::string> WorkerDirectory::ids() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& w : workers_) ids.push_back(w->state.worker_id());
  return ids;
}

std::vector<FlowWorker*> WorkerDirectory::all() const {
  std::lock_guard lock(mutex_);
  std::vector<FlowWorker*> all;
  for (const auto& w : workers_) all.push_back(w.get());
  return all;
}

void WorkerDirectory::retire(const FlowWorker& worker) {
  std::lock_guard lock(mutex_);
  auto it = running_by_name_.find(worker.name);
  if (it != running_by_name_.end() && it->second == &worker) running_by_name_.erase(it);
}

}  // namespace tendril::detail
