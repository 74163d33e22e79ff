#include "tendril/state/tool_state.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "fields.hpp"
#include "json_text.hpp"

namespace tendril::state {

namespace {

// Writes `value` as `width` decimal digits at `out`.
void put_digits(char* out, long long value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) out[i] = static_cast<char>('0' + value % 10);
}

}  // namespace

std::string utc_timestamp() { return utc_timestamp(std::chrono::system_clock::now()); }

std::string utc_timestamp(std::chrono::system_clock::time_point when) {
  using namespace std::chrono;
  // 64-bit nanoseconds reach from 1677 to 2262: every year has the 4 digits isoformat writes.
  static_assert(std::is_same_v<system_clock::duration, nanoseconds>);
  const auto micros_since = duration_cast<microseconds>(when.time_since_epoch());
  const sys_seconds second = floor<seconds>(sys_time<microseconds>(micros_since));
  const long long micros = (micros_since - second.time_since_epoch()).count();
  // "YYYY-MM-DDTHH:MM:SS" of the last second this thread wrote (a state is stamped on every
  // ToolState made: formatting it through gmtime_r and snprintf cost about 3,000 instructions).
  thread_local sys_seconds cached_second = sys_seconds::min();
  thread_local char prefix[19];
  if (second != cached_second) {
    const sys_days day = floor<days>(second);
    const year_month_day date{day};
    const hh_mm_ss time{second - day};
    put_digits(prefix, static_cast<int>(date.year()), 4);
    prefix[4] = '-';
    put_digits(prefix + 5, static_cast<unsigned>(date.month()), 2);
    prefix[7] = '-';
    put_digits(prefix + 8, static_cast<unsigned>(date.day()), 2);
    prefix[10] = 'T';
    put_digits(prefix + 11, time.hours().count(), 2);
    prefix[13] = ':';
    put_digits(prefix + 14, time.minutes().count(), 2);
    prefix[16] = ':';
    put_digits(prefix + 17, time.seconds().count(), 2);
    cached_second = second;
  }
  char text[32];
  std::memcpy(text, prefix, sizeof prefix);
  std::size_t size = sizeof prefix;
  if (micros != 0) {  // as Python's isoformat(): no fraction at all when it is 0
    text[size] = '.';
    put_digits(text + size + 1, micros, 6);
    size += 7;
  }
  std::memcpy(text + size, "+00:00", 6);
  return std::string(text, size + 6);
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
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t plain_end = plain_run_end(text, i);
    out.append(text, i, plain_end - i);
    if ((i = plain_end) == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      if (const std::size_t n = utf8_sequence(text, i)) {
        out.append(text, i, n);
        i += n;
        continue;
      }
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
    } else if (!append_ascii_escape(out, c)) {
      out += static_cast<char>(c);  // 0x7f
    }
    ++i;
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
  if (steps.is_array() && steps.empty())
    out += "[]";  // the usual case, without a serializer
  else
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
