// The standard fields of a ToolState, which `extra` never overrides.
#pragma once

#include <string_view>

namespace tendril::state {

inline bool is_standard_field(std::string_view key) {
  static constexpr std::string_view standard[] = {
      "type",     "flow_run_id", "state",           "tool_name",         "step_name",
      "message",  "total_files", "processed_files", "current_file_name", "steps",
      "timestamp"};
  for (std::string_view name : standard)
    if (key == name) return true;
  return false;
}

}  // namespace tendril::state
