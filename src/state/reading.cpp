#include "tendril/state/reading.hpp"

#include <array>
#include <optional>
#include <type_traits>
#include <utility>

#include "fields.hpp"

namespace tendril::state {
namespace {

using Type = redis::Reply::Type;

constexpr std::size_t max_text_bytes = std::size_t{16} << 20;
constexpr std::size_t max_depth = 64;

Error invalid(std::string message) { return Error{ErrorKind::invalid, std::move(message)}; }

// Parses one JSON value of at most max_depth levels; nullopt when it is not JSON.
std::optional<OrderedJson> parse_json(std::string_view text, std::string& why) {
  if (text.size() > max_text_bytes) {
    why = "longer than 16 MiB";
    return std::nullopt;
  }
  bool too_deep = false;
  const auto guard = [&](int depth, OrderedJson::parse_event_t, OrderedJson&) {
    if (static_cast<std::size_t>(depth) > max_depth) too_deep = true;
    return !too_deep;
  };
  OrderedJson json = OrderedJson::parse(text, guard, /*allow_exceptions=*/false);
  if (too_deep) {
    why = "nested deeper than 64 levels";
    return std::nullopt;
  }
  if (json.is_discarded()) {
    why = "not JSON";
    return std::nullopt;
  }
  return json;
}

template <class T>
Result<void> read_field(const OrderedJson& json, const char* name, T& into) {
  const auto it = json.find(name);
  if (it == json.end() || it->is_null()) return {};
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return std::unexpected(invalid(std::string(name) + " is not a string"));
    into = it->template get<std::string>();
  } else if constexpr (std::is_same_v<T, long long>) {
    if (it->is_number_integer() && !it->is_number_unsigned()) {
      into = it->template get<long long>();
    } else if (it->is_number_unsigned() &&
               it->template get<unsigned long long>() <= 9223372036854775807ULL) {
      into = static_cast<long long>(it->template get<unsigned long long>());
    } else {
      return std::unexpected(invalid(std::string(name) + " is not an integer"));
    }
  } else {
    if (!it->is_array()) return std::unexpected(invalid(std::string(name) + " is not an array"));
    into = *it;
  }
  return {};
}

// The states of one entry's `data` value, appended to `batch`.
void read_entry_data(std::string_view text, StreamBatch& batch) {
  std::string why;
  auto payload = parse_json(text, why);
  if (!payload || !payload->is_object() || !payload->contains("data") ||
      !(*payload)["data"].is_array()) {
    ++batch.malformed;
    return;
  }
  for (const auto& json : (*payload)["data"]) {
    if (auto state = read_tool_state(json))
      batch.states.push_back(std::move(*state));
    else
      ++batch.malformed;
  }
}

}  // namespace

Result<ToolState> read_tool_state(const OrderedJson& json) {
  if (!json.is_object()) return std::unexpected(invalid("a tool state is a JSON object"));
  ToolState s;
  s.flow_run_id.clear();
  s.timestamp.clear();
  const std::array<Result<void>, 11> read{
      read_field(json, "type", s.type),
      read_field(json, "flow_run_id", s.flow_run_id),
      read_field(json, "state", s.state),
      read_field(json, "tool_name", s.tool_name),
      read_field(json, "step_name", s.step_name),
      read_field(json, "message", s.message),
      read_field(json, "total_files", s.total_files),
      read_field(json, "processed_files", s.processed_files),
      read_field(json, "current_file_name", s.current_file_name),
      read_field(json, "steps", s.steps),
      read_field(json, "timestamp", s.timestamp),
  };
  for (const auto& field : read)
    if (!field) return std::unexpected(field.error());
  for (const auto& [key, value] : json.items())
    if (!is_standard_field(key)) s.extra[key] = value;
  return s;
}

Result<ToolState> parse_tool_state(std::string_view text) {
  std::string why;
  auto json = parse_json(text, why);
  if (!json) return std::unexpected(invalid("a tool state that is " + why));
  return read_tool_state(*json);
}

Result<StreamBatch> decode_stream_entries(const redis::Reply& entries) {
  if (entries.type != Type::array)
    return std::unexpected(invalid("stream entries are not an array"));
  StreamBatch batch;
  for (const auto& entry : entries.elements) {
    ++batch.entries;
    const bool shaped = entry.type == Type::array && entry.elements.size() == 2 &&
                        entry.elements[0].type == Type::string &&
                        entry.elements[1].type == Type::array;
    if (entry.type == Type::array && !entry.elements.empty() &&
        entry.elements[0].type == Type::string)
      batch.last_id = entry.elements[0].text;
    if (!shaped) {
      ++batch.malformed;
      continue;
    }
    const auto& fields = entry.elements[1].elements;
    bool found = false;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].type != Type::string || fields[i].text != "data") continue;
      found = true;
      if (fields[i + 1].type == Type::string)
        read_entry_data(fields[i + 1].text, batch);
      else
        ++batch.malformed;
      break;
    }
    if (!found) ++batch.malformed;
  }
  return batch;
}

Result<StreamBatch> decode_xread(const redis::Reply& reply) {
  if (reply.type == Type::nil) return StreamBatch{};
  if (reply.type != Type::array || reply.elements.size() != 1 ||
      reply.elements[0].type != Type::array || reply.elements[0].elements.size() != 2 ||
      reply.elements[0].elements[0].type != Type::string)
    return std::unexpected(invalid("not an XREAD reply for one stream"));
  return decode_stream_entries(reply.elements[0].elements[1]);
}

}  // namespace tendril::state
