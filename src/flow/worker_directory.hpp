// src/flow/worker_directory.hpp — every worker a runtime started, by id and by flow. Internal.
//
// Workers live as long as the runtime. A flow's running worker is the newest one started for
// it that has not stopped; `post` without a worker id goes there. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/flow/flow.hpp"
#include "worker.hpp"

namespace tendril::detail {

class WorkerDirectory {
 public:
  // "<flow id>#<n>", n counting up from 1 across the runtime.
  std::string next_id(const std::string& flow_id);
  // Keeps `worker` and makes it its flow's running worker.
  FlowWorker& add(std::unique_ptr<FlowWorker> worker);
  // The worker `worker_id` (which must run `flow_name`), or the flow's running worker when the
  // id is empty; errors name what is missing (`registry` tells a flow without a running worker
  // from an unknown one).
  Result<FlowWorker*> find(std::string_view flow_name, std::string_view worker_id,
                           const FlowRegistry& registry) const;
  FlowWorker* by_id(std::string_view worker_id) const;
  std::vector<std::string> ids() const;
  std::vector<FlowWorker*> all() const;
  // `worker` stopped: it is no longer its flow's running worker.
  void retire(const FlowWorker& worker);

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FlowWorker>> workers_;                 // guarded by mutex_
  std::map<std::string, FlowWorker*, std::less<>> by_id_;            // guarded by mutex_
  std::map<std::string, FlowWorker*, std::less<>> running_by_name_;  // guarded by mutex_
  std::uint64_t counter_ = 0;                                        // guarded by mutex_
};

}  // namespace tendril::detail
