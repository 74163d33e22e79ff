// Small builders for flow tests: a routine from a lambda, and a registry of our own so tests
// never see each other's flows.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <tendril/flow.hpp>

namespace flow_test {

namespace td = tendril;
using namespace std::chrono_literals;

inline std::unique_ptr<td::Routine> routine(std::vector<std::string> slots,
                                            std::vector<td::EventSpec> events,
                                            td::Routine::Logic logic) {
  auto r = std::make_unique<td::Routine>();
  for (auto& s : slots) r->add_slot(s);
  for (auto& e : events) r->add_event(e.name, e.params);
  r->set_logic(std::move(logic));
  return r;
}

// A routine that forwards every item it takes, unchanged, on "out".
inline std::unique_ptr<td::Routine> relay() {
  auto r = std::make_unique<td::Routine>();
  r->add_slot("in");
  r->add_event("out");
  td::Routine* self = r.get();
  r->set_logic([self](const td::SlotData& in, const td::Json&, td::FlowWorkerState&) {
    for (const auto& item : in["in"]) self->emit("out", item);
  });
  return r;
}

// The size of every activation's data, in order, for routines with one slot "in".
struct Recorder {
  std::mutex mutex;
  std::vector<std::vector<td::Json>> activations;
  std::vector<td::Json> messages;
  std::vector<std::chrono::steady_clock::time_point> times;

  td::Routine::Logic logic(std::string slot = "in") {
    return [this, slot](const td::SlotData& in, const td::Json& message, td::FlowWorkerState&) {
      std::lock_guard lock(mutex);
      activations.push_back(in[slot]);
      messages.push_back(message);
      times.push_back(std::chrono::steady_clock::now());
    };
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return activations.size();
  }
};

}  // namespace flow_test
