#include "tendril/flow/flow.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "flow_data.hpp"
#include "names.hpp"

namespace tendril {

namespace {

using detail::join_names;
using detail::join_names_of;

}  // namespace

std::string ValidationIssue::describe() const {
  return std::string(severity == Severity::error ? "error" : "warning") + ": " + where + ": " +
         message;
}

Flow::Flow(std::string flow_id) {
  if (flow_id.empty()) throw FlowError("Flow: the flow id is empty");
  data_ = std::make_shared<detail::FlowData>(std::move(flow_id));
}

const std::string& Flow::flow_id() const noexcept { return data_->flow_id; }
bool Flow::frozen() const noexcept { return data_->frozen.load(); }

void Flow::check_not_frozen(const char* what) const {
  if (frozen())
    throw FlowError(std::string(what) + ": flow '" + flow_id() +
                    "' is running and can no longer change");
}

Routine& Flow::add_routine(std::unique_ptr<Routine> routine, std::string id) {
  check_not_frozen("add_routine");
  if (!routine) throw FlowError("add_routine: flow '" + flow_id() + "': the routine is null");
  if (id.empty()) throw FlowError("add_routine: flow '" + flow_id() + "': the routine id is empty");
  std::lock_guard lock(data_->mutex);
  for (const auto& [existing, r] : data_->routines)
    if (existing == id)
      throw FlowError("add_routine: flow '" + flow_id() + "' already has a routine '" + id + "'");
  routine->id_ = id;
  Routine& ref = *routine;
  data_->routines.emplace_back(std::move(id), std::move(routine));
  return ref;
}

Routine* Flow::routine(std::string_view id) const {
  std::lock_guard lock(data_->mutex);
  for (const auto& [existing, r] : data_->routines)
    if (existing == id) return r.get();
  return nullptr;
}

std::vector<std::string> Flow::routine_ids() const {
  std::lock_guard lock(data_->mutex);
  std::vector<std::string> ids;
  for (const auto& entry : data_->routines) ids.push_back(entry.first);
  return ids;
}

std::vector<Link> Flow::links() const {
  std::lock_guard lock(data_->mutex);
  return data_->connections;
}

void Flow::connect(std::string_view from, std::string_view event, std::string_view to,
                   std::string_view slot) {
  check_not_frozen("connect");
  const std::string what = "connect " + std::string(from) + "." + std::string(event) + " -> " +
                           std::string(to) + "." + std::string(slot) + ": ";
  Routine* source = routine(from);
  if (!source)
    throw FlowError(what + "flow '" + flow_id() + "' has no routine '" + std::string(from) +
                    "' (routines: " + join_names(routine_ids()) + ")");
  if (!source->find_event(event))
    throw FlowError(what + "routine '" + std::string(from) + "' has no event '" +
                    std::string(event) + "' (events: " + join_names_of(source->events()) + ")");
  Routine* target = routine(to);
  if (!target)
    throw FlowError(what + "flow '" + flow_id() + "' has no routine '" + std::string(to) +
                    "' (routines: " + join_names(routine_ids()) + ")");
  if (!target->find_slot(slot))
    throw FlowError(what + "routine '" + std::string(to) + "' has no slot '" + std::string(slot) +
                    "' (slots: " + join_names_of(target->slots()) + ")");
  Link c{std::string(from), std::string(event), std::string(to), std::string(slot)};
  std::lock_guard lock(data_->mutex);
  if (std::find(data_->connections.begin(), data_->connections.end(), c) !=
      data_->connections.end())
    throw FlowError(what + "already connected");
  data_->connections.push_back(std::move(c));
}

void Flow::set_error_handler(ErrorHandler handler) {
  check_not_frozen("set_error_handler");
  try {
    handler.check();
  } catch (const std::invalid_argument& e) {
    throw FlowError(e.what());
  }
  std::lock_guard lock(data_->mutex);
  data_->error_handler = handler;
}

const std::optional<ErrorHandler>& Flow::error_handler() const noexcept {
  return data_->error_handler;
}

void Flow::mark_entry_point(std::string_view routine_id) {
  check_not_frozen("mark_entry_point");
  if (!routine(routine_id))
    throw FlowError("mark_entry_point: flow '" + flow_id() + "' has no routine '" +
                    std::string(routine_id) + "'");
  std::lock_guard lock(data_->mutex);
  data_->entry_points.emplace(routine_id);
}

bool Flow::is_entry_point(std::string_view routine_id) const {
  std::lock_guard lock(data_->mutex);
  return data_->entry_points.contains(routine_id);
}

std::vector<std::string> Flow::entry_points() const {
  std::lock_guard lock(data_->mutex);
  std::vector<std::string> ids;
  for (const auto& [id, r] : data_->routines)
    if (data_->entry_points.contains(id)) ids.push_back(id);
  return ids;
}

namespace {

// Every cycle of routines the links make, once each, as "a -> b -> a": a depth-first search
// with its own stack (a flow file may hold many routines).
std::vector<std::string> cycles(const std::vector<Link>& links) {
  std::map<std::string, std::set<std::string>> next;
  for (const auto& link : links) next[link.from].insert(link.to);
  enum class Mark { unseen, on_path, done };
  std::map<std::string, Mark> marks;
  std::vector<std::string> found;
  struct Frame {
    std::string id;
    std::set<std::string>::const_iterator to, end;
  };
  for (const auto& [start, unused] : next) {
    if (marks[start] != Mark::unseen) continue;
    std::vector<Frame> path;
    marks[start] = Mark::on_path;
    path.push_back({start, next[start].cbegin(), next[start].cend()});
    while (!path.empty()) {
      Frame& top = path.back();
      if (top.to == top.end) {
        marks[top.id] = Mark::done;
        path.pop_back();
        continue;
      }
      const std::string to = *top.to++;
      if (marks[to] == Mark::on_path) {
        std::string cycle;
        auto it =
            std::find_if(path.begin(), path.end(), [&](const Frame& f) { return f.id == to; });
        for (; it != path.end(); ++it) cycle += it->id + " -> ";
        found.push_back(cycle + to);
      } else if (marks[to] == Mark::unseen) {
        marks[to] = Mark::on_path;
        path.push_back({to, next[to].cbegin(), next[to].cend()});
      }
    }
  }
  return found;
}

}  // namespace

std::vector<ValidationIssue> Flow::validate() const {
  using Severity = ValidationIssue::Severity;
  std::vector<ValidationIssue> issues;
  std::lock_guard lock(data_->mutex);
  if (data_->routines.empty())
    issues.push_back({Severity::error, "flow '" + flow_id() + "'", "has no routines"});
  for (const auto& [id, r] : data_->routines) {
    const std::string where = "routine '" + id + "'";
    if (!r->logic()) issues.push_back({Severity::error, where, "has no logic (call set_logic)"});
    if (r->slots().empty()) {
      issues.push_back({Severity::warning, where, "has no slots, so nothing can activate it"});
      continue;
    }
    std::set<std::string> fed;
    for (const auto& c : data_->connections)
      if (c.to == id) fed.insert(c.slot);
    const bool entry = data_->entry_points.contains(id);
    if (fed.empty()) {
      if (!entry)
        issues.push_back({Severity::warning, where,
                          "has slots but no incoming connection: only posts reach it (mark it "
                          "\"entry\": true if that is meant)"});
      continue;
    }
    const auto kind = r->activation_policy().kind();
    if (kind == ActivationPolicy::Kind::all_slots_ready ||
        kind == ActivationPolicy::Kind::batch_size)
      for (const auto& s : r->slots())
        if (!fed.contains(s.name) && !entry)
          issues.push_back({Severity::warning, where,
                            "its " + r->activation_policy().name() + " policy waits on slot '" +
                                s.name + "', which no connection feeds (only posts)"});
  }
  for (const auto& cycle : cycles(data_->connections))
    issues.push_back({Severity::warning, "routines " + cycle,
                      "form a cycle: a job can circle it until the runtime's hop limit "
                      "(RuntimeOptions::max_hops) fails it"});
  return issues;
}

// --- registries ----------------------------------------------------------------------------------

RoutineRegistry& RoutineRegistry::instance() {
  static RoutineRegistry registry;
  return registry;
}

void RoutineRegistry::register_type(std::string name, Factory factory) {
  if (name.empty()) throw FlowError("RoutineRegistry: the type name is empty");
  if (!factory) throw FlowError("RoutineRegistry: type '" + name + "' has no factory");
  std::lock_guard lock(mutex_);
  if (!factories_.emplace(name, std::move(factory)).second)
    throw FlowError("RoutineRegistry: type '" + name + "' is already registered");
}

bool RoutineRegistry::contains(std::string_view name) const {
  std::lock_guard lock(mutex_);
  return factories_.find(name) != factories_.end();
}

std::vector<std::string> RoutineRegistry::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& entry : factories_) names.push_back(entry.first);
  return names;
}

Result<std::unique_ptr<Routine>> RoutineRegistry::create(std::string_view name) const {
  Factory factory;
  {
    std::lock_guard lock(mutex_);
    auto it = factories_.find(name);
    if (it != factories_.end()) factory = it->second;
  }
  if (!factory)
    return std::unexpected(Error{.kind = ErrorKind::not_found,
                                 .message = "unknown routine type '" + std::string(name) +
                                            "' (registered: " + join_names(names()) + ")"});
  std::unique_ptr<Routine> routine;
  try {
    routine = factory();
  } catch (const std::exception& e) {
    return std::unexpected(Error{
        .kind = ErrorKind::invalid,
        .message = "routine type '" + std::string(name) + "' failed to construct: " + e.what()});
  }
  if (!routine)
    return std::unexpected(
        Error{.kind = ErrorKind::invalid,
              .message = "routine type '" + std::string(name) + "': the factory returned null"});
  routine->type_name_ = std::string(name);
  return routine;
}

FlowRegistry& FlowRegistry::instance() {
  static FlowRegistry registry;
  return registry;
}

void FlowRegistry::register_by_name(std::string name, Flow flow) {
  if (name.empty()) throw FlowError("FlowRegistry: the flow name is empty");
  std::lock_guard lock(mutex_);
  flows_.insert_or_assign(std::move(name), std::move(flow));
}

std::optional<Flow> FlowRegistry::get(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = flows_.find(name);
  if (it == flows_.end()) return std::nullopt;
  return it->second;
}

bool FlowRegistry::unregister(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto it = flows_.find(name);
  if (it == flows_.end()) return false;
  flows_.erase(it);
  return true;
}

std::vector<std::string> FlowRegistry::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& entry : flows_) names.push_back(entry.first);
  return names;
}

}  // namespace tendril
