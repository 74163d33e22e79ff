// tendril/flow/routine.hpp — a routine: input slots, output events, logic, a policy.
//
// Subclass `Routine` and declare everything in the constructor:
//
//   class Counter : public td::Routine {
//    public:
//     Counter() {
//       add_slot("input");
//       add_event("output", {"count"});
//       set_logic([this](const td::SlotData& in, const td::Json&, td::FlowWorkerState& state) {
//         auto now = state.update_routine_state(id(), [](td::Json& s) { s["count"] =
//         s.value("count", 0) + 1; }); emit("output", {{"count", now["count"]}});
//       });
//     }
//   };
//
// A routine is configuration: once a flow holding it runs, the same object serves every worker of
// that flow, so per-worker data belongs in the FlowWorkerState, per-job data in the JobContext. The
// builder methods throw `FlowError` (a std::invalid_argument) naming what is wrong.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tendril/flow/activation_policy.hpp"
#include "tendril/flow/error_handler.hpp"
#include "tendril/flow/job_context.hpp"
#include "tendril/flow/worker_state.hpp"

namespace tendril {

// A flow was described or used wrongly: the message names the flow, routine, slot or event.
// The flows' UsageError.
class FlowError : public UsageError {
 public:
  using UsageError::UsageError;
};

// The data an activation took, slot by slot, oldest first. A slot that gave nothing reads empty.
class SlotData {
 public:
  const std::vector<Json>& operator[](std::string_view slot) const;
  const std::vector<Json>& get(std::string_view slot) const { return (*this)[slot]; }
  // The slot's items, which logic may move from (`emit("out", std::move(item))`) so that a
  // payload passes along a chain without a copy. A retry still gets the items as delivered: the
  // runtime keeps a copy for routines whose error handler retries.
  std::span<Json> items(std::string_view slot);
  bool empty() const noexcept;
  std::size_t total() const noexcept;
  const std::vector<std::pair<std::string, std::vector<Json>>>& slots() const { return slots_; }
  void add(std::string slot, std::vector<Json> items) {
    slots_.emplace_back(std::move(slot), std::move(items));
  }
  // Empties every slot's items but keeps the buffers, so that the runtime can fill the same
  // SlotData again without allocating: `slot(i, name)` then names entry i and gives its (empty)
  // items, and `resize(n)` sets how many entries there are.
  void clear_items() noexcept {
    for (auto& entry : slots_) entry.second.clear();
  }
  void resize(std::size_t slots) { slots_.resize(slots); }
  std::vector<Json>& slot(std::size_t index, const std::string& name) {
    auto& entry = slots_[index];
    if (entry.first != name) entry.first = name;
    return entry.second;
  }

 private:
  std::vector<std::pair<std::string, std::vector<Json>>> slots_;
};

struct SlotSpec {
  std::string name;
  std::size_t max_queue_length = 1000;
  double watermark = 0.8;  // usage at or above which the slot reports "high" pressure
};

struct EventSpec {
  std::string name;
  std::vector<std::string> params;  // the keys an emitted payload may carry; empty: any
};

class Routine {
 public:
  // (slot data, policy message, worker state). Logic may take `const SlotData&`, or `SlotData&`
  // to move items out (SlotData::items).
  using Logic = std::function<void(SlotData&, const Json&, FlowWorkerState&)>;

  Routine() = default;
  virtual ~Routine() = default;
  Routine(const Routine&) = delete;
  Routine& operator=(const Routine&) = delete;

  // Errors: a duplicate or empty name, max_queue_length 0, watermark outside [0, 1].
  void add_slot(std::string name, std::size_t max_queue_length = 1000, double watermark = 0.8);
  // Errors: a duplicate or empty name, a repeated parameter.
  void add_event(std::string name, std::vector<std::string> params = {});
  void set_logic(Logic logic) { logic_ = std::move(logic); }
  void set_activation_policy(ActivationPolicy policy) { policy_ = std::move(policy); }
  void set_error_handler(ErrorHandler handler);
  // How many activations of this routine one worker may run at once (default 1: one at a time,
  // in arrival order, so logic may read-modify-write its state without a race).
  void set_concurrency(std::size_t n);

  void set_config(Json config);  // an object
  void set_config(std::string key, Json value);
  Json get_config(std::string_view key, Json fallback = nullptr) const;
  const Json& config() const noexcept { return config_; }
  // What is wrong with `config` for this routine, if anything: a flow file's loader asks, so a
  // bad value is an error naming it at load time, not at run time. Default: nothing.
  virtual std::optional<std::string> config_problem(const Json& config) const;

  // Delivers `payload` (a JSON object) to every slot connected to `event`, as part of the
  // current job. Only from inside this routine's logic, on the thread running it. A full slot
  // is backpressure: the thread runs other ready routines (or waits) until there is room.
  // Errors (FlowError): an undeclared event, a key the event does not declare, a payload that is
  // not an object, a call outside the logic, a slot that stays full for 30 s.
  void emit(std::string_view event, Json payload = Json::object()) const;

  // The job being handled (inside the logic), else nullptr.
  JobContext* current_job() const noexcept { return tendril::current_job(); }

  const std::string& id() const noexcept { return id_; }
  const std::string& type_name() const noexcept { return type_name_; }
  const std::vector<SlotSpec>& slots() const noexcept { return slots_; }
  const std::vector<EventSpec>& events() const noexcept { return events_; }
  const SlotSpec* find_slot(std::string_view name) const;
  const EventSpec* find_event(std::string_view name) const;
  const Logic& logic() const noexcept { return logic_; }
  const ActivationPolicy& activation_policy() const noexcept { return policy_; }
  const std::optional<ErrorHandler>& error_handler() const noexcept { return error_handler_; }
  std::size_t concurrency() const noexcept { return concurrency_; }

 private:
  friend class Flow;
  friend class RoutineRegistry;

  std::string id_;
  std::string type_name_;
  std::vector<SlotSpec> slots_;
  std::vector<EventSpec> events_;
  Logic logic_;
  ActivationPolicy policy_ = ActivationPolicy::immediate();
  std::optional<ErrorHandler> error_handler_;
  std::size_t concurrency_ = 1;
  Json config_ = Json::object();
};

}  // namespace tendril
