// tendril/flow/flow.hpp — routines wired into a flow; flows and routine types by name.
//
// A `Flow` is a handle: copies share one flow. It is frozen once a worker runs it; changing it
// afterwards is a FlowError. A flow can be described in JSON (routine types registered by name
// with `RoutineRegistry`, their config, policy and error handler, the connections):
//
//   {"flow_id": "counter",
//    "error_handler": {"strategy": "retry", "max_retries": 2, "retry_delay_ms": 10},
//    "routines": {"count": {"type": "Counter", "config": {"step": 2},
//                           "policy": {"type": "batch_size", "n": 3}}},
//    "connections": [{"from": "count", "event": "output", "to": "log", "slot": "input"}]}
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/flow/routine.hpp"

namespace tendril {

// One edge of a flow, made by Flow::connect: event `event` of routine `from` feeds slot `slot` of
// routine `to` (a flow file lists them under "connections").
struct Link {
  std::string from, event, to, slot;
  bool operator==(const Link&) const = default;
};

struct ValidationIssue {
  enum class Severity { error, warning };
  Severity severity;
  std::string where;  // "routine 'count'", "connection count.output -> log.input", ...
  std::string message;
  std::string describe() const;  // "warning: routine 'b': has slots but no incoming connection"
};

namespace detail {
struct FlowData;
}

class Flow {
 public:
  explicit Flow(std::string flow_id);

  const std::string& flow_id() const noexcept;

  // Adds `routine` as `id` and returns it. Errors: empty or duplicate id, null routine.
  Routine& add_routine(std::unique_ptr<Routine> routine, std::string id);
  template <class R, class... Args>
  R& emplace_routine(std::string id, Args&&... args) {
    auto owned = std::make_unique<R>(std::forward<Args>(args)...);
    R& ref = *owned;
    add_routine(std::move(owned), std::move(id));
    return ref;
  }

  // Connects `from`'s event to `to`'s slot. Errors name the unknown routine, event or slot (and
  // what exists), or a repeated connection.
  void connect(std::string_view from, std::string_view event, std::string_view to,
               std::string_view slot);

  void set_error_handler(ErrorHandler handler);
  const std::optional<ErrorHandler>& error_handler() const noexcept;

  // Marks a routine as an entry point: fed by posts, so validate() expects no connection into
  // it (`"entry": true` in a flow file). Errors: an unknown routine, a frozen flow.
  void mark_entry_point(std::string_view routine);
  bool is_entry_point(std::string_view routine) const;
  std::vector<std::string> entry_points() const;  // in the order the routines were added

  // Errors (a routine without logic, an event declared twice...) and warnings (a routine with
  // slots but no incoming connection that is not marked an entry point, an emitted-to-nowhere
  // event, a routine whose all_slots_ready/batch_size policy waits on a slot nothing feeds, a
  // cycle).
  std::vector<ValidationIssue> validate() const;

  Routine* routine(std::string_view id) const;
  std::vector<std::string> routine_ids() const;  // in the order they were added
  std::vector<Link> links() const;
  bool frozen() const noexcept;

  // JSON form (see above). Every routine must have been made by its registered type.
  Result<Json> to_json() const;
  static Result<Flow> from_json(const Json& json);
  // Reads and parses a file; errors name the file and the place: "flow.json:3:14: ..." for
  // syntax, "flow.json: /routines/a/type: ..." for content.
  static Result<Flow> load_file(const std::filesystem::path& path);

  // Graphviz DOT: routines as nodes (id, type, policy), connections as edges (event -> slot).
  std::string to_dot() const;

  std::shared_ptr<detail::FlowData> data() const noexcept { return data_; }

 private:
  explicit Flow(std::shared_ptr<detail::FlowData> data) : data_(std::move(data)) {}
  void check_not_frozen(const char* what) const;
  std::shared_ptr<detail::FlowData> data_;
};

// Routine types by name, for flows described in JSON. Thread-safe.
class RoutineRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Routine>()>;
  static RoutineRegistry& instance();

  // Errors: an empty or already registered name.
  void register_type(std::string name, Factory factory);
  template <class R>
  void register_type(std::string name) {
    register_type(std::move(name), [] { return std::make_unique<R>(); });
  }
  bool contains(std::string_view name) const;
  // A new routine of type `name`, remembering its type; an error naming the type and listing the
  // registered ones when it is unknown.
  Result<std::unique_ptr<Routine>> create(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Factory, std::less<>> factories_;
};

// Flows by name, for `Runtime::exec(name)`. Thread-safe.
class FlowRegistry {
 public:
  static FlowRegistry& instance();
  // Registers (or replaces) `flow` under `name`.
  void register_by_name(std::string name, Flow flow);
  std::optional<Flow> get(std::string_view name) const;
  bool unregister(std::string_view name);
  std::vector<std::string> names() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Flow, std::less<>> flows_;
};

}  // namespace tendril
