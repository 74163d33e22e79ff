// src/flow/flow_data.hpp — what a Flow handle shares. Internal.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tendril/flow/flow.hpp"

namespace tendril::detail {

struct FlowData {
  explicit FlowData(std::string id) : flow_id(std::move(id)) {}
  const std::string flow_id;
  mutable std::mutex mutex;  // guards the members below while the flow is built
  std::vector<std::pair<std::string, std::unique_ptr<Routine>>> routines;  // in added order
  std::vector<Link> connections;
  std::optional<ErrorHandler> error_handler;
  std::set<std::string, std::less<>> entry_points;
  std::atomic<bool> frozen{false};  // set by the first worker; nothing changes afterwards
};

}  // namespace tendril::detail
