#include "tendril/state/tool_state.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace tendril::state {

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1'000'000;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<long long>(micros));
  return text;
}

std::string ToolState::default_flow_run_id() {
  const char* id = std::getenv("PREFECT__FLOW_RUN_ID");
  return id ? id : "";
}

ToolState ToolState::updated(const std::function<void(ToolState&)>& change) const {
  ToolState copy = *this;
  change(copy);
  copy.timestamp = utc_timestamp();
  return copy;
}

OrderedJson ToolState::to_json() const {
  OrderedJson json{{"type", type},
                   {"flow_run_id", flow_run_id},
                   {"state", state},
                   {"tool_name", tool_name},
                   {"step_name", step_name},
                   {"message", message},
                   {"total_files", total_files},
                   {"processed_files", processed_files},
                   {"current_file_name", current_file_name},
                   {"steps", steps},
                   {"timestamp", timestamp}};
  for (const auto& [key, value] : extra.items())
    if (!json.contains(key)) json[key] = value;
  return json;
}

namespace {

bool is_standard_field(const std::string& key) {
  static constexpr const char* standard[] = {"type",        "flow_run_id",     "state",
                                             "tool_name",   "step_name",       "message",
                                             "total_files", "processed_files", "current_file_name",
                                             "steps",       "timestamp"};
  for (const char* name : standard)
    if (key == name) return true;
  return false;
}

// A JSON string literal, escaped as nlohmann's dump() escapes it (UTF-8 passes through).
void append_string(std::string& out, const std::string& text) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 0xf];
          out += hex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_field(std::string& out, const char* name, const std::string& value) {
  out += '"';
  out += name;
  out += "\":";
  append_string(out, value);
}

}  // namespace

void ToolState::append_json(std::string& out) const {
  out += '{';
  append_field(out, "type", type);
  out += ',';
  append_field(out, "flow_run_id", flow_run_id);
  out += ',';
  append_field(out, "state", state);
  out += ',';
  append_field(out, "tool_name", tool_name);
  out += ',';
  append_field(out, "step_name", step_name);
  out += ',';
  append_field(out, "message", message);
  out += ",\"total_files\":";
  out += std::to_string(total_files);
  out += ",\"processed_files\":";
  out += std::to_string(processed_files);
  out += ',';
  append_field(out, "current_file_name", current_file_name);
  out += ",\"steps\":";
  out += steps.dump();
  out += ',';
  append_field(out, "timestamp", timestamp);
  for (const auto& [key, value] : extra.items()) {
    if (is_standard_field(key)) continue;  // as in to_json(): the standard field wins
    out += ',';
    append_string(out, key);
    out += ':';
    out += value.dump();
  }
  out += '}';
}

ToolState ToolState::from_json(const OrderedJson& json) {
  ToolState s;
  s.type = json.value("type", s.type);
  s.flow_run_id = json.value("flow_run_id", std::string());
  s.state = json.value("state", s.state);
  s.tool_name = json.value("tool_name", std::string());
  s.step_name = json.value("step_name", std::string());
  s.message = json.value("message", std::string());
  s.total_files = json.value("total_files", 0LL);
  s.processed_files = json.value("processed_files", 0LL);
  s.current_file_name = json.value("current_file_name", std::string());
  s.steps = json.value("steps", OrderedJson::array());
  s.timestamp = json.value("timestamp", std::string());
  for (const auto& [key, value] : json.items()) {
    const bool known = is_standard_field(key);
    if (!known) s.extra[key] = value;
  }
  return s;
}

}  // namespace tendril::state
