// Flows as JSON documents and as Graphviz graphs.
#include <fstream>
#include <set>
#include <sstream>

#include "flow_data.hpp"
#include "json_checks.hpp"
#include "tendril/flow/flow.hpp"
#include "tendril/flow/json_reader.hpp"

namespace tendril {

namespace {

std::unexpected<Error> invalid(std::string message) {
  return std::unexpected(Error{.kind = ErrorKind::invalid, .message = std::move(message)});
}

using detail::only_keys;

// Text safe inside a quoted DOT string: quotes and backslashes escaped, a newline as DOT's \n,
// other control characters as spaces. Every name and label goes through it, so a routine id
// cannot close its string and add attributes (URL=..., which SVG output turns into links).
std::string dot_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string describe_policy(const ActivationPolicy& p) {
  switch (p.kind()) {
    case ActivationPolicy::Kind::batch_size:
      return "batch_size(" + std::to_string(p.batch()) + ")";
    case ActivationPolicy::Kind::time_interval:
      return "time_interval(" + std::to_string(p.interval().count()) + " ms)";
    default:
      return p.name();
  }
}

}  // namespace

Result<Json> Flow::to_json() const {
  std::lock_guard lock(data_->mutex);
  Json routines = Json::object();
  for (const auto& [id, r] : data_->routines) {
    if (r->type_name().empty())
      return std::unexpected(Error{.kind = ErrorKind::usage,
                                   .message = "flow '" + flow_id() + "': routine '" + id +
                                              "' was not made by a registered type, so it has "
                                              "no JSON form (RoutineRegistry::create)"});
    auto policy = r->activation_policy().to_json();
    if (!policy)
      return std::unexpected(Error{
          .kind = ErrorKind::usage,
          .message = "flow '" + flow_id() + "': routine '" + id + "': " + policy.error().message});
    Json entry = {{"type", r->type_name()}, {"policy", *policy}};
    if (!r->config().empty()) entry["config"] = r->config();
    if (r->error_handler()) entry["error_handler"] = r->error_handler()->to_json();
    if (r->concurrency() != 1) entry["concurrency"] = r->concurrency();
    if (data_->entry_points.contains(id)) entry["entry"] = true;
    routines[id] = std::move(entry);
  }
  Json connections = Json::array();
  for (const auto& c : data_->connections)
    connections.push_back({{"from", c.from}, {"event", c.event}, {"to", c.to}, {"slot", c.slot}});
  Json out = {{"flow_id", flow_id()},
              {"routines", std::move(routines)},
              {"connections", std::move(connections)}};
  if (data_->error_handler) out["error_handler"] = data_->error_handler->to_json();
  return out;
}

Result<Flow> Flow::from_json(const Json& json) {
  if (!json.is_object())
    return invalid(std::string("/: expected an object, not ") + json.type_name());
  if (auto ok = only_keys(json, {"flow_id", "routines", "connections", "error_handler"}, ""); !ok)
    return std::unexpected(ok.error());
  auto id = json.find("flow_id");
  if (id == json.end() || !id->is_string() || id->get<std::string>().empty())
    return invalid("/flow_id: expected a non-empty string");
  Flow flow(id->get<std::string>());

  auto routines = json.find("routines");
  if (routines == json.end() || !routines->is_object())
    return invalid("/routines: expected an object of routine id -> {\"type\": ...}");
  for (const auto& [rid, spec] : routines->items()) {
    const std::string where = "/routines/" + rid;
    if (!spec.is_object()) return invalid(where + ": expected an object");
    if (auto ok = only_keys(
            spec, {"type", "config", "policy", "error_handler", "concurrency", "entry"}, where);
        !ok)
      return std::unexpected(ok.error());
    auto type = spec.find("type");
    if (type == spec.end() || !type->is_string())
      return invalid(where + "/type: expected the name of a registered routine type");
    auto routine = RoutineRegistry::instance().create(type->get<std::string>());
    if (!routine) return invalid(where + "/type: " + routine.error().message);
    try {
      if (auto config = spec.find("config"); config != spec.end()) {
        if (!config->is_object()) return invalid(where + "/config: expected an object");
        for (const auto& [key, value] : config->items()) (*routine)->set_config(key, value);
      }
      if (auto problem = (*routine)->config_problem((*routine)->config()))
        return invalid(where + "/config: " + *problem);
      if (auto policy = spec.find("policy"); policy != spec.end()) {
        auto p = ActivationPolicy::from_json(*policy, where + "/policy");
        if (!p) return std::unexpected(p.error());
        (*routine)->set_activation_policy(std::move(*p));
      }
      if (auto handler = spec.find("error_handler"); handler != spec.end()) {
        auto h = ErrorHandler::from_json(*handler, where + "/error_handler");
        if (!h) return std::unexpected(h.error());
        (*routine)->set_error_handler(*h);
      }
      if (auto n = spec.find("concurrency"); n != spec.end()) {
        if (!n->is_number_unsigned() || n->get<std::size_t>() == 0)
          return invalid(where + "/concurrency: expected an integer >= 1");
        (*routine)->set_concurrency(n->get<std::size_t>());
      }
      flow.add_routine(std::move(*routine), rid);
      if (auto entry = spec.find("entry"); entry != spec.end()) {
        if (!entry->is_boolean()) return invalid(where + "/entry: expected true or false");
        if (entry->get<bool>()) flow.mark_entry_point(rid);
      }
    } catch (const FlowError& e) {
      return invalid(where + ": " + e.what());
    }
  }

  if (auto connections = json.find("connections"); connections != json.end()) {
    if (!connections->is_array()) return invalid("/connections: expected an array");
    for (std::size_t i = 0; i < connections->size(); ++i) {
      const Json& c = (*connections)[i];
      const std::string where = "/connections/" + std::to_string(i);
      if (!c.is_object()) return invalid(where + ": expected an object");
      if (auto ok = only_keys(c, {"from", "event", "to", "slot"}, where); !ok)
        return std::unexpected(ok.error());
      for (const char* key : {"from", "event", "to", "slot"})
        if (!c.contains(key) || !c[key].is_string())
          return invalid(where + "/" + key + ": expected a string");
      try {
        flow.connect(c["from"].get<std::string>(), c["event"].get<std::string>(),
                     c["to"].get<std::string>(), c["slot"].get<std::string>());
      } catch (const FlowError& e) {
        return invalid(where + ": " + e.what());
      }
    }
  }
  if (auto handler = json.find("error_handler"); handler != json.end()) {
    auto h = ErrorHandler::from_json(*handler, "/error_handler");
    if (!h) return std::unexpected(h.error());
    flow.set_error_handler(*h);
  }
  return flow;
}

Result<Flow> Flow::load_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::unexpected(Error{.kind = ErrorKind::not_found,
                                 .message = path.string() + ": cannot open the flow file"});
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  auto json = read_json(text);
  if (!json) {  // "path:line:column: what" when the reader knows the place, else "path: what"
    const std::string& what = json.error().message;
    const bool placed = !what.empty() && what.front() >= '0' && what.front() <= '9';
    return invalid(path.string() + (placed ? ":" : ": ") + what);
  }
  auto flow = from_json(*json);
  if (!flow) return invalid(path.string() + ": " + flow.error().message);
  return flow;
}

std::string Flow::to_dot() const {
  std::lock_guard lock(data_->mutex);
  std::ostringstream out;
  out << "digraph \"" << dot_escape(flow_id()) << "\" {\n"
      << "  rankdir=LR;\n"
      << "  label=\"flow " << dot_escape(flow_id()) << "\"; labelloc=t; fontname=\"Helvetica\";\n"
      << "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef4fb\", "
         "fontname=\"Helvetica\"];\n"
      << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  std::set<std::string> fed;
  for (const auto& c : data_->connections) fed.insert(c.to);
  for (const auto& [id, r] : data_->routines) {
    std::string label = dot_escape(id);
    if (!r->type_name().empty()) label += "\\n(" + dot_escape(r->type_name()) + ")";
    label += "\\n" + dot_escape(describe_policy(r->activation_policy()));
    std::string slots;
    for (const auto& s : r->slots()) slots += (slots.empty() ? "" : ", ") + s.name;
    if (!slots.empty()) label += "\\nslots: " + dot_escape(slots);
    out << "  \"" << dot_escape(id) << "\" [label=\"" << label << "\"";
    if (!fed.contains(id) && !r->slots().empty()) out << ", penwidth=2";  // an entry point
    out << "];\n";
  }
  for (const auto& c : data_->connections)
    out << "  \"" << dot_escape(c.from) << "\" -> \"" << dot_escape(c.to) << "\" [label=\""
        << dot_escape(c.event) << " → " << dot_escape(c.slot) << "\"];\n";
  out << "}\n";
  return out.str();
}

}  // namespace tendril
