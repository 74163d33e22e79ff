// tendril/state/tool_state.hpp — the progress record of a tool run, in the real package's format.
//
// Plain values, safe to copy between threads. to_json() writes the fields in the original
// package's order (consumers read them by name; the order only keeps payloads comparable).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tendril::state {

using OrderedJson = nlohmann::ordered_json;

// Now, in UTC, as Python's datetime.isoformat() writes it: "2026-11-22T10:25:28.123456+00:00",
// without the fraction when it is 0 ("2026-11-22T10:25:28+00:00"). Every ToolState made stamps
// one, so it is cheap: the date and time of day are written once per second and thread.
std::string utc_timestamp();
// The same for the moment `when`.
std::string utc_timestamp(std::chrono::system_clock::time_point when);

struct ToolState {
  std::string type = "ToolState";
  std::string flow_run_id = default_flow_run_id();  // PREFECT__FLOW_RUN_ID, or ""
  std::string state = "INFO";
  std::string tool_name = {};
  std::string step_name = {};
  std::string message = {};
  long long total_files = 0;
  long long processed_files = 0;
  std::string current_file_name = {};
  OrderedJson steps = OrderedJson::array();
  std::string timestamp = utc_timestamp();
  OrderedJson extra = OrderedJson::object();  // free-form fields, written after the standard ones

  // A copy with `change` applied and a new timestamp (the seed's build(**changes)).
  ToolState updated(const std::function<void(ToolState&)>& change) const;

  // Which run this state belongs to: its flow_run_id, its `tool_run_id` extra field (see
  // ToolStateManager) and its tool_name, joined. Equal for every state of one run.
  std::string run_key() const;

  OrderedJson to_json() const;
  // Appends the same JSON as to_json().dump() to `out`, without building a tree: the
  // publisher's hot path.
  void append_json(std::string& out) const;
  // Reading one back: read_tool_state() in <tendril/state/reading.hpp>.

  static std::string default_flow_run_id();
};

}  // namespace tendril::state
