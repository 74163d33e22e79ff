// Small builders for flow tests: a routine from a lambda, and a registry of our own so tests
// never see each other's flows.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <tendril/flow.hpp>

#include "support/eventually.hpp"

namespace flow_test {

namespace td = tendril;
using namespace std::chrono_literals;
using td::Json;

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

// --- shared fixtures ---

template <class F>
inline std::string flow_error_of(F&& f) {
  try {
    f();
  } catch (const td::FlowError& e) {
    return e.what();
  }
  return "(no FlowError)";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs `flow` on its own runtime, posts `items` to routine/slot, waits, shuts down.
using test_support::eventually;

struct Harness {
  explicit Harness(td::Flow f, std::size_t threads = 2, td::Clock* clock = nullptr)
      : flow(std::move(f)),
        rt({.thread_pool_size = threads, .registry = &registry, .clock = clock}) {
    registry.register_by_name(flow.flow_id(), flow);
    worker = rt.exec(flow.flow_id()).value();
  }
  std::shared_ptr<td::JobContext> post(const std::string& routine, const std::string& slot,
                                       Json data) {
    auto posted = rt.post(flow.flow_id(), routine, slot, std::move(data));
    EXPECT_TRUE(posted) << posted.error().describe();
    return posted ? posted->job : nullptr;
  }
  td::FlowRegistry registry;
  td::Flow flow;
  td::Runtime rt;
  std::string worker;
};

// A counter routine: each item adds one to routine state "counter", atomically.
inline std::unique_ptr<td::Routine> atomic_counter(std::size_t concurrency = 1) {
  auto r = routine({"in"}, {{"count", {"count"}}}, nullptr);
  td::Routine* self = r.get();
  r->set_logic([self](const td::SlotData& in, const Json&, td::FlowWorkerState& state) {
    for (std::size_t i = 0; i < in["in"].size(); ++i) {
      Json now = state.update_routine_state("counter",
                                            [](Json& s) { s["count"] = s.value("count", 0) + 1; });
      self->emit("count", {{"count", now["count"]}});
    }
  });
  r->set_concurrency(concurrency);
  return r;
}

struct Fixture {
  explicit Fixture(std::size_t threads = 2, td::RuntimeHooks hooks = {}, td::Clock* clock = nullptr)
      : rt({.thread_pool_size = threads,
            .registry = &registry,
            .clock = clock,
            .hooks = std::move(hooks)}) {}
  td::FlowRegistry registry;
  td::Runtime rt;
};

// entry -> flaky -> after; `flaky` throws for items whose "fail" count is not used up yet.
struct FlakyFlow {
  explicit FlakyFlow(std::optional<td::ErrorHandler> routine_handler,
                     std::optional<td::ErrorHandler> flow_handler = std::nullopt,
                     td::RuntimeHooks hooks = {}, std::size_t threads = 2,
                     td::Clock& clock_ = td::Clock::steady())
      : f(threads, std::move(hooks), &clock_), clock(clock_) {
    td::Flow flow("flaky");
    auto r = routine({"in"}, {{"out", {}}}, nullptr);
    td::Routine* self = r.get();
    r->set_logic([this, self](const td::SlotData& in, const Json&, td::FlowWorkerState&) {
      std::lock_guard lock(mutex);
      attempts.push_back(clock.now());
      const Json& item = in["in"].at(0);
      if (failures_left < 0) failures_left = item.value("fail", 0);
      if (failures_left > 0) {
        --failures_left;
        throw std::runtime_error("flaky failure");
      }
      failures_left = -1;
      self->emit("out", item);
    });
    r->set_activation_policy(td::ActivationPolicy::batch_size(1));  // one item per activation
    if (routine_handler) r->set_error_handler(*routine_handler);
    if (flow_handler) flow.set_error_handler(*flow_handler);
    flow.add_routine(std::move(r), "flaky");
    flow.add_routine(
        routine({"in"}, {},
                [this](auto& in, auto&, auto&) { after += static_cast<int>(in["in"].size()); }),
        "after");
    flow.connect("flaky", "out", "after", "in");
    f.registry.register_by_name("flaky", flow);
    worker = f.rt.exec("flaky").value();
  }
  std::shared_ptr<td::JobContext> post(int fail) {
    return f.rt.post("flaky", "flaky", "in", {{"fail", fail}}).value().job;
  }
  std::size_t attempt_count() {
    std::lock_guard lock(mutex);
    return attempts.size();
  }
  Fixture f;
  td::Clock& clock;
  std::string worker;
  std::mutex mutex;
  int failures_left = -1;
  std::vector<td::Clock::time_point> attempts;  // by the runtime's clock
  std::atomic<int> after{0};
};

}  // namespace flow_test
