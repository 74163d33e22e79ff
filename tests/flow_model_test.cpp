// Routines, activation policies, flows and flow files (issue points 1-3).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "support/flow_helpers.hpp"

using namespace flow_test;
using td::Json;

namespace {

template <class F>
std::string flow_error_of(F&& f) {
  try {
    f();
  } catch (const td::FlowError& e) {
    return e.what();
  }
  return "(no FlowError)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs `flow` on its own runtime, posts `items` to routine/slot, waits, shuts down.
struct Harness {
  explicit Harness(td::Flow f, std::size_t threads = 2)
      : flow(std::move(f)), rt({.thread_pool_size = threads, .registry = &registry}) {
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

}  // namespace

// --- 1. Routine --------------------------------------------------------------------------------

TEST(Routine, SlotAndEventArgumentsAreCheckedWithClearErrors) {
  td::Routine r;
  r.add_slot("input", 10, 0.5);
  EXPECT_TRUE(contains(flow_error_of([&] { r.add_slot("input"); }), "slot 'input' already exists"));
  EXPECT_TRUE(
      contains(flow_error_of([&] { r.add_slot("b", 0); }), "max_queue_length must be at least 1"));
  EXPECT_TRUE(contains(flow_error_of([&] { r.add_slot("c", 10, 1.5); }),
                       "watermark must be within [0, 1]"));
  EXPECT_TRUE(contains(flow_error_of([&] { r.add_slot("d", 10, -0.1); }), "watermark"));
  EXPECT_TRUE(contains(flow_error_of([&] { r.add_slot(""); }), "slot name is empty"));
  r.add_event("out", {"a", "b"});
  EXPECT_TRUE(contains(flow_error_of([&] { r.add_event("out"); }), "event 'out' already exists"));
  EXPECT_TRUE(contains(flow_error_of([&] {
                         r.add_event("e", {"x", "x"});
                       }),
                       "lists parameter 'x' twice"));
  EXPECT_TRUE(contains(flow_error_of([&] { r.set_config(Json::array()); }), "must be an object"));
  EXPECT_TRUE(contains(flow_error_of([&] { r.set_concurrency(0); }), "at least 1"));
  EXPECT_TRUE(contains(flow_error_of([&] {
                         r.set_error_handler(
                             {.strategy = td::ErrorStrategy::RETRY, .retry_backoff = 0.5});
                       }),
                       "retry_backoff must be >= 1"));
  ASSERT_NE(r.find_slot("input"), nullptr);
  EXPECT_EQ(r.find_slot("input")->max_queue_length, 10u);
  EXPECT_DOUBLE_EQ(r.find_slot("input")->watermark, 0.5);
  EXPECT_EQ(r.find_event("out")->params, (std::vector<std::string>{"a", "b"}));
}

TEST(Routine, ConfigIsReadBackWithDefaults) {
  td::Routine r;
  r.set_config({{"threshold", 0.5}});
  r.set_config("name", "x");
  EXPECT_EQ(r.get_config("threshold"), 0.5);
  EXPECT_EQ(r.get_config("name"), "x");
  EXPECT_EQ(r.get_config("missing", 7), 7);
  EXPECT_TRUE(r.get_config("missing").is_null());
}

TEST(Routine, EmitFansOutToEveryConnectedSlotAndHopsOn) {
  td::Flow flow("fan");
  flow.add_routine(relay(), "a");
  flow.add_routine(relay(), "b");
  flow.add_routine(relay(), "c");
  Recorder from_b, from_c;
  flow.add_routine(routine({"in"}, {}, from_b.logic()), "end_b");
  flow.add_routine(routine({"in"}, {}, from_c.logic()), "end_c");
  flow.connect("a", "out", "b", "in");
  flow.connect("a", "out", "c", "in");
  flow.connect("b", "out", "end_b", "in");  // two hops from a
  flow.connect("c", "out", "end_c", "in");
  Harness h(flow);
  for (int i = 0; i < 50; ++i) h.post("a", "in", {{"n", i}});
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  std::vector<int> got_b, got_c;
  for (auto& a : from_b.activations)
    for (auto& item : a) got_b.push_back(item["n"]);
  for (auto& a : from_c.activations)
    for (auto& item : a) got_c.push_back(item["n"]);
  std::vector<int> expected(50);
  for (int i = 0; i < 50; ++i) expected[i] = i;
  EXPECT_EQ(got_b, expected);  // one worker per routine: arrival order
  EXPECT_EQ(got_c, expected);
}

TEST(Routine, EmitChecksTheEventItsParametersAndWhereItIsCalledFrom) {
  td::Flow flow("emits");
  auto r = std::make_unique<td::Routine>();
  td::Routine* self = r.get();
  r->add_slot("in");
  r->add_event("out", {"value"});
  std::vector<std::string> errors;
  std::mutex mutex;
  r->set_logic([&, self](const td::SlotData& in, const Json&, td::FlowWorkerState&) {
    for (const auto& item : in["in"]) {
      const std::string what = item["try"];
      std::string caught = flow_error_of([&] {
        if (what == "undeclared") self->emit("nope", {{"value", 1}});
        if (what == "bad_key") self->emit("out", {{"valu", 1}});
        if (what == "not_object") self->emit("out", Json::array({1}));
      });
      if (what == "thread")  // another thread of the logic's own making
        std::thread([&] {
          caught = flow_error_of([&] { self->emit("out", {{"value", 1}}); });
        }).join();
      std::lock_guard lock(mutex);
      errors.push_back(caught);
    }
  });
  r->set_error_handler({.strategy = td::ErrorStrategy::CONTINUE});
  flow.add_routine(std::move(r), "r");
  Harness h(flow, 1);
  for (const char* what : {"undeclared", "bad_key", "not_object", "thread"})
    h.post("r", "in", {{"try", what}});
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_TRUE(contains(errors[0], "routine 'r' has no event 'nope'")) << errors[0];
  EXPECT_TRUE(contains(errors[1], "has no parameter 'valu' (declared: value)")) << errors[1];
  EXPECT_TRUE(contains(errors[2], "takes a JSON object, not array")) << errors[2];
  EXPECT_TRUE(contains(errors[3], "outside the routine's logic")) << errors[3];
  // Outside any runtime at all:
  EXPECT_TRUE(contains(flow_error_of([&] { self->emit("out", {{"value", 1}}); }), "outside"));
}

// --- 2. Activation policies --------------------------------------------------------------------

// Each policy test posts while the worker is paused, so that the policy sees exactly the slots
// the test built, then resumes it.

TEST(Policy, NoPolicyMeansImmediateWhichTakesEverythingQueued) {
  Recorder rec;
  td::Flow flow("immediate");
  flow.add_routine(routine({"in"}, {}, rec.logic()), "r");  // no set_activation_policy
  Harness h(flow);
  ASSERT_TRUE(h.rt.pause(h.worker));
  for (int i = 0; i < 5; ++i) h.post("r", "in", {{"n", i}});
  ASSERT_TRUE(h.rt.resume(h.worker));
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  ASSERT_EQ(rec.activations.size(), 1u);  // one activation took all five
  EXPECT_EQ(rec.activations[0].size(), 5u);
  EXPECT_EQ(rec.messages[0]["policy"], "immediate");
  h.post("r", "in", {{"n", 5}});  // and a later item runs at once
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(rec.activations.size(), 2u);
}

TEST(Policy, BatchSizeTakesExactlyNFromEachSlotAndLeavesTheRest) {
  Recorder rec;
  td::Flow flow("batch");
  auto r = routine({"in"}, {}, rec.logic());
  r->set_activation_policy(td::ActivationPolicy::batch_size(3));
  flow.add_routine(std::move(r), "r");
  Harness h(flow);
  ASSERT_TRUE(h.rt.pause(h.worker));
  std::vector<std::shared_ptr<td::JobContext>> jobs;
  for (int i = 0; i < 7; ++i) jobs.push_back(h.post("r", "in", {{"n", i}}));
  ASSERT_TRUE(h.rt.resume(h.worker));
  ASSERT_TRUE(jobs[5]->wait(10s));
  EXPECT_FALSE(h.rt.wait_until_all_jobs_finished(100ms));  // the seventh waits for two more
  ASSERT_EQ(rec.count(), 2u);
  EXPECT_EQ(rec.activations[0], (std::vector<Json>{{{"n", 0}}, {{"n", 1}}, {{"n", 2}}}));
  EXPECT_EQ(rec.activations[1], (std::vector<Json>{{{"n", 3}}, {{"n", 4}}, {{"n", 5}}}));
  EXPECT_EQ(rec.messages[0], (Json{{"policy", "batch_size"}, {"batch_size", 3}}));
  auto status = h.rt.slot_status(h.worker);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].queued, 1u);
  EXPECT_EQ(jobs[6]->status(), td::JobStatus::pending);
  EXPECT_THROW(td::ActivationPolicy::batch_size(0), std::invalid_argument);
}

TEST(Policy, AllSlotsReadyTakesOneFromEachSlotOnlyWhenEveryOneHasData) {
  std::vector<std::pair<std::size_t, std::size_t>> taken;
  td::Flow flow("ready");
  auto r = routine({"a", "b"}, {}, [&](const td::SlotData& in, const Json&, td::FlowWorkerState&) {
    taken.emplace_back(in["a"].size(), in["b"].size());
  });
  r->set_activation_policy(td::ActivationPolicy::all_slots_ready());
  flow.add_routine(std::move(r), "r");
  Harness h(flow, 1);
  ASSERT_TRUE(h.rt.pause(h.worker));
  for (int i = 0; i < 3; ++i) h.post("r", "a", {{"n", i}});
  ASSERT_TRUE(h.rt.resume(h.worker));
  EXPECT_FALSE(h.rt.wait_until_all_jobs_finished(100ms));
  EXPECT_TRUE(taken.empty());  // b is empty: nothing runs
  auto job_b = h.post("r", "b", {{"n", 0}});
  ASSERT_TRUE(job_b->wait(10s));
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], std::make_pair(std::size_t{1}, std::size_t{1}));
  auto status = h.rt.slot_status(h.worker);
  EXPECT_EQ(status[0].queued, 2u);  // a keeps two
  EXPECT_EQ(status[1].queued, 0u);
}

TEST(Policy, TimeIntervalFiresOnItsOwnTimerAtMostOncePerIntervalPerRoutine) {
  Recorder fast, slow;
  td::Flow flow("interval");
  auto a = routine({"in"}, {}, fast.logic());
  a->set_activation_policy(td::ActivationPolicy::time_interval(150ms));
  auto b = routine({"in"}, {}, slow.logic());
  b->set_activation_policy(td::ActivationPolicy::time_interval(300ms));
  flow.add_routine(std::move(a), "a");
  flow.add_routine(std::move(b), "b");
  Harness h(flow);
  const auto start = std::chrono::steady_clock::now();
  h.post("a", "in", {{"n", 0}});
  h.post("b", "in", {{"n", 0}});
  // The first items run at once (nothing ran before); wait for that, then post more which must
  // wait for each routine's own interval, with no further post to trigger them.
  for (int i = 0; i < 200 && (fast.count() < 1 || slow.count() < 1); ++i)
    std::this_thread::sleep_for(5ms);
  for (int i = 1; i <= 3; ++i) {
    h.post("a", "in", {{"n", i}});
    h.post("b", "in", {{"n", i}});
  }
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  ASSERT_EQ(fast.activations.size(), 2u);
  ASSERT_EQ(slow.activations.size(), 2u);
  EXPECT_EQ(fast.activations[1].size(), 3u);  // everything queued meanwhile, at once
  EXPECT_EQ(slow.activations[1].size(), 3u);
  // At most once per interval: the policy measures from one decision to run to the next (the
  // logic itself may start a little later under load, so its own clock is not the measure).
  EXPECT_GE(fast.messages[1]["since_last_ms"].get<int>(), 150) << fast.messages[1];
  EXPECT_GE(slow.messages[1]["since_last_ms"].get<int>(), 300) << slow.messages[1];
  EXPECT_LT(fast.times[1] - start, 2s);
  EXPECT_EQ(fast.messages[1]["interval_ms"], 150);
  EXPECT_THROW(td::ActivationPolicy::time_interval(0ms), std::invalid_argument);
}

TEST(Policy, CustomRunsWhenThePredicateSaysSoAndTakesEverything) {
  Recorder rec;
  td::Flow flow("custom");
  auto r = routine({"in", "control"}, {}, rec.logic());
  // Run once two items wait in "in", or as soon as anything arrives on "control".
  r->set_activation_policy(td::ActivationPolicy::custom(
      [](const td::SlotsView& s) { return s.queued("in") >= 2 || s.queued("control") > 0; },
      "pairs_or_control"));
  flow.add_routine(std::move(r), "r");
  Harness h(flow, 1);
  h.post("r", "in", {{"n", 0}});
  EXPECT_FALSE(h.rt.wait_until_all_jobs_finished(100ms));
  EXPECT_EQ(rec.count(), 0u);
  h.post("r", "in", {{"n", 1}});
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  ASSERT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.activations[0].size(), 2u);
  EXPECT_EQ(rec.messages[0]["policy"], "pairs_or_control");
  h.post("r", "in", {{"n", 2}});
  h.post("r", "control", {{"go", true}});
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  ASSERT_EQ(rec.count(), 2u);
  EXPECT_EQ(rec.activations[1].size(), 1u);  // "in" held one; "control" one more
}

// --- 3. Flows, flow files, registries ----------------------------------------------------------

TEST(Flow, BuildingErrorsNameTheUnknownPart) {
  td::Flow flow("f");
  flow.add_routine(relay(), "a");
  flow.add_routine(relay(), "b");
  EXPECT_TRUE(contains(flow_error_of([&] { flow.add_routine(relay(), "a"); }),
                       "already has a routine 'a'"));
  EXPECT_TRUE(contains(flow_error_of([&] { flow.connect("x", "out", "b", "in"); }),
                       "flow 'f' has no routine 'x' (routines: a, b)"));
  EXPECT_TRUE(contains(flow_error_of([&] { flow.connect("a", "output", "b", "in"); }),
                       "routine 'a' has no event 'output' (events: out)"));
  EXPECT_TRUE(
      contains(flow_error_of([&] { flow.connect("a", "out", "y", "in"); }), "has no routine 'y'"));
  EXPECT_TRUE(contains(flow_error_of([&] { flow.connect("a", "out", "b", "input"); }),
                       "routine 'b' has no slot 'input' (slots: in)"));
  flow.connect("a", "out", "b", "in");
  EXPECT_TRUE(
      contains(flow_error_of([&] { flow.connect("a", "out", "b", "in"); }), "already connected"));
}

TEST(Flow, ValidateReportsErrorsAndWarnings) {
  td::Flow flow("v");
  flow.add_routine(relay(), "entry");
  auto pair = routine({"left", "right"}, {}, [](auto&, auto&, auto&) {});
  pair->set_activation_policy(td::ActivationPolicy::all_slots_ready());
  flow.add_routine(std::move(pair), "pair");
  auto no_logic = std::make_unique<td::Routine>();
  no_logic->add_slot("in");
  flow.add_routine(std::move(no_logic), "lazy");
  flow.connect("entry", "out", "pair", "left");
  flow.connect("entry", "out", "lazy", "in");
  std::vector<std::string> lines;
  for (const auto& issue : flow.validate()) lines.push_back(issue.describe());
  auto has = [&](const std::string& s) {
    return std::any_of(lines.begin(), lines.end(), [&](auto& l) { return contains(l, s); });
  };
  EXPECT_TRUE(has("error: routine 'lazy': has no logic")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(has("warning: routine 'entry': has slots but no incoming connection"));
  EXPECT_TRUE(has("warning: routine 'pair': its all_slots_ready policy waits on slot 'right'"));
  // exec refuses a flow with errors, naming them.
  td::Runtime rt({.thread_pool_size = 1});
  auto worker = rt.exec(flow);
  ASSERT_FALSE(worker);
  EXPECT_TRUE(contains(worker.error().message, "routine 'lazy': has no logic"));
}

namespace {

// A registered routine type for flow files: counts items into its routine state and emits the
// running total, scaled by its config's "step".
class CountingRoutine : public td::Routine {
 public:
  CountingRoutine() {
    add_slot("input");
    add_event("output", {"count"});
    set_logic([this](const td::SlotData& in, const Json&, td::FlowWorkerState& state) {
      const int step = get_config("step", 1);
      for (std::size_t i = 0; i < in["input"].size(); ++i) {
        Json now = state.update_routine_state(
            id(), [&](Json& s) { s["count"] = s.value("count", 0) + step; });
        emit("output", {{"count", now["count"]}});
      }
    });
  }
};

class SinkRoutine : public td::Routine {
 public:
  SinkRoutine() {
    add_slot("input");
    set_logic([this](const td::SlotData& in, const Json&, td::FlowWorkerState& state) {
      for (const auto& item : in["input"])
        state.update_routine_state(id(), [&](Json& s) { s["last"] = item; });
    });
  }
};

const bool registered = [] {
  td::RoutineRegistry::instance().register_type<CountingRoutine>("test.Counter");
  td::RoutineRegistry::instance().register_type<SinkRoutine>("test.Sink");
  return true;
}();

std::filesystem::path write_file(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("tendril-" + name);
  std::ofstream(path) << text;
  return path;
}

const char* kCounterFlow = R"({
  "flow_id": "counting",
  "error_handler": {"strategy": "retry", "max_retries": 2, "retry_delay_ms": 10,
                    "retry_backoff": 1.5},
  "routines": {
    "count": {"type": "test.Counter", "config": {"step": 2},
              "policy": {"type": "batch_size", "n": 1}},
    "sink": {"type": "test.Sink", "error_handler": {"strategy": "continue"}}
  },
  "connections": [{"from": "count", "event": "output", "to": "sink", "slot": "input"}]
})";

}  // namespace

TEST(FlowFile, LoadsValidatesRunsAndRoundTrips) {
  ASSERT_TRUE(registered);
  auto flow = td::Flow::load_file(write_file("counting.json", kCounterFlow));
  ASSERT_TRUE(flow) << flow.error().message;
  EXPECT_EQ(flow->flow_id(), "counting");
  EXPECT_EQ(flow->routine("count")->get_config("step"), 2);
  EXPECT_EQ(flow->routine("count")->activation_policy().kind(),
            td::ActivationPolicy::Kind::batch_size);
  EXPECT_EQ(flow->routine("sink")->error_handler()->strategy, td::ErrorStrategy::CONTINUE);
  EXPECT_EQ(flow->error_handler()->max_retries, 2);
  for (const auto& issue : flow->validate())
    EXPECT_EQ(issue.severity, td::ValidationIssue::Severity::warning) << issue.describe();

  auto json = flow->to_json();
  ASSERT_TRUE(json) << json.error().message;
  auto again = td::Flow::from_json(*json);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->to_json().value(), *json);  // a fixed point
  EXPECT_EQ((*json)["routines"]["count"]["config"]["step"], 2);

  // And it runs: three posts count 2, 4, 6 into the sink.
  td::Runtime rt({.thread_pool_size = 2});
  auto worker = rt.exec(*again);
  ASSERT_TRUE(worker) << worker.error().message;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(rt.post("counting", "count", "input", {{"i", i}}));
  ASSERT_TRUE(rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(rt.worker_state(*worker)->get_routine_state("count").value()["count"], 6);
  EXPECT_EQ(rt.worker_state(*worker)->get_routine_state("sink").value()["last"]["count"], 6);
}

TEST(FlowFile, MalformedFilesAreErrorsNamingThePlace) {
  auto error_of = [](const std::string& text) {
    auto flow = td::Flow::load_file(write_file("bad.json", text));
    return flow ? std::string("(loaded)") : flow.error().message;
  };
  std::string e = error_of("{\n  \"flow_id\": \"x\",\n  \"routines\": {,}\n}");
  EXPECT_TRUE(contains(e, "bad.json:3:16:")) << e;
  EXPECT_TRUE(contains(e, "syntax error")) << e;
  e = error_of(R"({"flow_id": "x", "routines": {"a": {"type": "NoSuchType"}}})");
  EXPECT_TRUE(contains(e, "/routines/a/type: unknown routine type 'NoSuchType' (registered:")) << e;
  EXPECT_TRUE(contains(e, "test.Counter")) << e;
  e = error_of(R"({"flow_id": "x", "routines": {"a": {"type": "test.Counter",
                  "policy": {"type": "batch_size", "n": 0}}}})");
  EXPECT_TRUE(contains(e, "/routines/a/policy/n: expected a positive integer")) << e;
  e = error_of(R"({"flow_id": "x", "routines": {"a": {"type": "test.Counter", "polcy": {}}}})");
  EXPECT_TRUE(contains(e, "/routines/a/polcy: unknown key")) << e;
  e = error_of(R"({"flow_id": "x", "routines": {"a": {"type": "test.Counter"}},
                  "connections": [{"from": "a", "event": "output", "to": "b", "slot": "input"}]})");
  EXPECT_TRUE(
      contains(e, "/connections/0: connect a.output -> b.input: flow 'x' has no routine 'b'"))
      << e;
  e = error_of(R"({"routines": {}})");
  EXPECT_TRUE(contains(e, "/flow_id: expected a non-empty string")) << e;
  e = error_of(R"({"flow_id": "x", "routines": {}, "error_handler": {"strategy": "panic"}})");
  EXPECT_TRUE(contains(e, "/error_handler/strategy: unknown strategy 'panic'")) << e;
  auto missing = td::Flow::load_file("/nonexistent/flow.json");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(contains(missing.error().message, "/nonexistent/flow.json: cannot open"));
}

TEST(FlowFile, RoutinesWithoutARegisteredTypeOrWithACustomPolicyHaveNoJsonForm) {
  td::Flow flow("code_only");
  flow.add_routine(relay(), "a");
  auto json = flow.to_json();
  ASSERT_FALSE(json);
  EXPECT_TRUE(contains(json.error().message, "routine 'a' was not made by a registered type"));
}

TEST(FlowRegistry, RegistersFlowsByNameAndRoutineTypesOnce) {
  td::FlowRegistry registry;
  td::Flow flow("one");
  registry.register_by_name("first", flow);
  ASSERT_TRUE(registry.get("first"));
  EXPECT_EQ(registry.get("first")->flow_id(), "one");
  EXPECT_FALSE(registry.get("second"));
  EXPECT_EQ(registry.names(), std::vector<std::string>{"first"});
  EXPECT_TRUE(registry.unregister("first"));
  EXPECT_FALSE(registry.get("first"));
  EXPECT_TRUE(contains(flow_error_of([] {
                         td::RoutineRegistry::instance().register_type<SinkRoutine>("test.Sink");
                       }),
                       "type 'test.Sink' is already registered"));
}

TEST(Flow, DotGraphShowsRoutinesPoliciesAndConnections) {
  auto flow = td::Flow::from_json(Json::parse(kCounterFlow));
  ASSERT_TRUE(flow);
  const std::string dot = flow->to_dot();
  EXPECT_TRUE(contains(dot, "digraph \"counting\"")) << dot;
  EXPECT_TRUE(contains(dot, "\"count\" [label=\"count\\n(test.Counter)\\nbatch_size(1)")) << dot;
  EXPECT_TRUE(contains(dot, "\"count\" -> \"sink\" [label=\"output → input\"]")) << dot;
}

TEST(Flow, IsFrozenOnceAWorkerRunsIt) {
  td::Flow flow("frozen");
  flow.add_routine(relay(), "a");
  td::Runtime rt({.thread_pool_size = 1});
  ASSERT_TRUE(rt.exec(flow));
  EXPECT_TRUE(flow.frozen());
  EXPECT_TRUE(contains(flow_error_of([&] { flow.add_routine(relay(), "b"); }),
                       "flow 'frozen' is running and can no longer change"));
}
