// cli/run_table.hpp — what `tendril watch` knows of tool runs, and the table it draws.
//
// A run is told apart by its flow_run_id, its tool_run_id (which ToolStateManager gives every
// run) and its tool name, so two concurrent scans are two rows even without a flow run id.
// Rows keep the order runs were first seen. Not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include <tendril/state/tool_state.hpp>

namespace tendril::cli {

// Seconds since the epoch of an ISO-8601 UTC timestamp as ToolState writes it; 0 if unreadable.
double epoch_seconds(const std::string& timestamp);

class RunTable {
 public:
  void add(state::ToolState state);
  void count_malformed(std::size_t n) { malformed_ += n; }
  std::size_t runs() const noexcept { return rows_.size(); }

  // The table, no line wider than `width` (at least 64) columns. `now` (epoch seconds) dates
  // the "updated" column; a run still RUNNING whose last state is older than `silent_after`
  // seconds shows as SILENT: its producer may have died.
  std::string render(int width, double now, double silent_after) const;

 private:
  struct Row {
    state::ToolState first, last;
    std::string name;    // the tool name, printable
    std::string suffix;  // " #N" for the Nth run of a tool name, from the second on
  };
  std::vector<Row> rows_;
  std::unordered_map<std::string, std::size_t> index_;     // key -> row
  std::unordered_map<std::string, std::size_t> per_tool_;  // tool name -> runs seen
  std::size_t malformed_ = 0;
};

}  // namespace tendril::cli
