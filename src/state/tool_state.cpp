#include "tendril/state/tool_state.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "fields.hpp"

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

// The length of the valid UTF-8 sequence at text[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one.
std::size_t utf8_sequence(const std::string& text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length;
  unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // no overlong forms
    if (lead == 0xed) high = 0x9f;  // no surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  return length;
}

// A JSON string literal, escaped as nlohmann's dump() escapes it. Every byte that is not part of
// valid UTF-8 (a file name like "bad\xff.txt") becomes U+FFFD, so the JSON is always valid
// UTF-8 and every reader takes it (nlohmann's error_handler_t::replace does the same).
void append_string(std::string& out, const std::string& text) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      if (const std::size_t n = utf8_sequence(text, i)) {
        out.append(text, i, n);
        i += n - 1;
      } else {
        out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      }
      continue;
    }
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
