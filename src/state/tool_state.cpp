#include "tendril/state/tool_state.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "fields.hpp"
#include "json_text.hpp"

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
  if (micros == 0)  // as Python's isoformat(): no fraction at all then
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  else
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00",
                  utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                  utc.tm_sec, static_cast<long long>(micros));
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

std::string ToolState::run_key() const {
  const auto run = extra.find("tool_run_id");
  return flow_run_id + '\n' +
         (run != extra.end() && run->is_string() ? run->get<std::string>() : "") + '\n' + tool_name;
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

// A JSON string literal, escaped as nlohmann's dump() escapes it. Every byte that is not part of
// valid UTF-8 (a file name like "bad\xff.txt") becomes U+FFFD, so the JSON is always valid
// UTF-8 and every reader takes it (nlohmann's error_handler_t::replace does the same).
void append_string(std::string& out, const std::string& text) {
  out += '"';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      if (const std::size_t n = utf8_sequence(text, i)) {
        out.append(text, i, n);
        i += n - 1;
      } else {
        out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      }
    } else if (!append_ascii_escape(out, c)) {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// A JSON value as text, invalid UTF-8 in its strings replaced by U+FFFD (dump() would throw).
std::string dump_valid(const OrderedJson& value) {
  return value.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
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
  out += dump_valid(steps);
  out += ',';
  append_field(out, "timestamp", timestamp);
  for (const auto& [key, value] : extra.items()) {
    if (is_standard_field(key)) continue;  // as in to_json(): the standard field wins
    out += ',';
    append_string(out, key);
    out += ':';
    out += dump_valid(value);
  }
  out += '}';
}

}  // namespace tendril::state
