#include <atomic>
#include <string>

#include "tendril/state/publisher.hpp"

namespace tendril::state {

ToolStateManager::ToolStateManager(ToolStatePublisher& publisher, std::string tool_name,
                                   std::vector<std::string> steps)
    : publisher_(publisher) {
  static std::atomic<std::uint64_t> runs{0};
  current_.tool_name = std::move(tool_name);
  current_.steps = steps;
  run_id_ = publisher.stats().publisher_id + "." + std::to_string(++runs);
  current_.extra["tool_run_id"] = run_id_;
}

void ToolStateManager::send(const std::function<void(ToolState&)>& change) {
  ToolState next;
  {
    std::lock_guard lock(mutex_);
    current_ = current_.updated(change);
    next = current_;
  }
  publisher_.publish(std::move(next));
}

void ToolStateManager::starting_tool(const std::string& message) {
  send([&](ToolState& s) {
    s.state = "RUNNING";
    s.message = message;
  });
}

void ToolStateManager::publish_step_details(const std::string& step_name,
                                            const std::string& message, long long total_files,
                                            long long processed_files,
                                            const std::string& current_file_name) {
  send([&](ToolState& s) {
    s.state = "RUNNING";
    s.step_name = step_name;
    s.message = message;
    s.total_files = total_files;
    s.processed_files = processed_files;
    s.current_file_name = current_file_name;
  });
}

void ToolStateManager::completed_tool(const std::string& message) {
  send([&](ToolState& s) {
    s.state = "COMPLETED";
    s.message = message;
  });
}

void ToolStateManager::failed_tool(const std::string& message) {
  send([&](ToolState& s) {
    s.state = "FAILED";
    s.message = message;
  });
}

bool ToolStateManager::finish(std::chrono::milliseconds timeout) {
  return publisher_.flush(timeout);
}

}  // namespace tendril::state
