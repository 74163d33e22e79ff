// Flows, flow files and registries.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <thread>

#include "support/flow_helpers.hpp"

using namespace flow_test;
using td::Json;

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
  EXPECT_TRUE(contains(e, "/routines/a/policy/n: expected a whole number from 1 to 1000000")) << e;
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

TEST(FlowFile, UnknownKeysAndOutOfRangeValuesInPoliciesAndHandlersAreErrors) {
  td::register_builtin_routines();
  auto error_of = [](const std::string& routine) {
    auto flow =
        td::Flow::from_json(Json::parse(R"({"flow_id": "x", "routines": {"a": )" + routine + "}}"));
    return flow ? std::string("(loaded)") : flow.error().message;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type": "tendril.Relay", "error_handler": {"strategy": "retry", "max_retry": 3}})",
       "/routines/a/error_handler/max_retry: unknown key (expected: strategy, max_retries"},
      {R"({"type": "tendril.Relay", "error_handler": {"strategy": "retry", "retry_delay": 5}})",
       "/routines/a/error_handler/retry_delay: unknown key"},
      {R"({"type": "tendril.Relay", "policy": {"type": "time_interval", "ms": 5,
           "timeout_ms": 1}})",
       "/routines/a/policy/timeout_ms: unknown key (expected: type, ms)"},
      {R"({"type": "tendril.Relay", "policy": {"type": "time_interval", "ms": 10000000000000}})",
       "/routines/a/policy/ms: expected a whole number from 1 to 2592000000"},
      {R"({"type": "tendril.Relay", "error_handler": {"strategy": "retry",
           "max_retries": 99999999999}})",
       "/routines/a/error_handler/max_retries: expected a whole number from 0 to 1000"},
      {R"({"type": "tendril.Relay", "error_handler": {"strategy": "retry",
           "retry_backoff": 1e300}})",
       "/routines/a/error_handler/retry_backoff: expected a number from 1"},
      {R"({"type": "tendril.Counter", "config": {"step": 9223372036854775807}})",
       "/routines/a/config: /step: expected a whole number from -1000000000000 to 1000000000000"},
      {R"({"type": "tendril.Counter", "config": {"step": "one"}})",
       "/routines/a/config: /step: expected a whole number"},
      {R"({"type": "tendril.Counter", "config": {"stp": 1}})",
       "/routines/a/config: /stp: unknown key (expected: step)"},
      {R"({"type": "tendril.Log", "config": {"prefix": 5}})",
       "/routines/a/config: /prefix: expected a string, not number"},
  };
  for (const auto& [routine, expected] : cases) {
    const std::string e = error_of(routine);
    EXPECT_TRUE(contains(e, expected)) << routine << "\n  gave: " << e;
  }
  EXPECT_THROW(td::ActivationPolicy::time_interval(std::chrono::hours(24 * 31)), td::UsageError);
  EXPECT_EQ(error_of(R"({"type": "tendril.Counter", "config": {"step": -3}})"), "(loaded)");
}

TEST(FlowFile, ACounterThatWouldOverflowFailsItsJobInsteadOfWrapping) {
  td::register_builtin_routines();
  auto flow = td::Flow::from_json(Json::parse(R"({"flow_id": "big", "routines": {
      "count": {"type": "tendril.Counter", "config": {"step": 1000000000000}}}})"));
  ASSERT_TRUE(flow) << flow.error().message;
  Fixture f(1);
  const Json saved = {{"routine_states", {{"count", {{"count", INT64_MAX - 10}}}}}};
  auto worker = f.rt.exec(*flow, saved);
  ASSERT_TRUE(worker) << worker.error().message;
  auto job = f.rt.post("big", "count", "in", {}).value().job;
  ASSERT_TRUE(job->wait(10s));
  EXPECT_EQ(job->status(), td::JobStatus::failed);
  EXPECT_TRUE(contains(job->error()->message, "overflow")) << job->error()->describe();
  EXPECT_EQ(f.rt.worker_state(*worker)->get_routine_state("count").value()["count"],
            INT64_MAX - 10);  // all or nothing: the state is as it was
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

TEST(Flow, DotGraphEscapesEveryNameSoNoneCanAddAttributes) {
  td::Flow flow("evil\"flow");
  const std::string evil = "a\", URL=\"http://evil.example/\nx\\";
  flow.add_routine(relay(), evil);
  flow.add_routine(relay(), "b");
  flow.connect(evil, "out", "b", "in");
  const std::string dot = flow.to_dot();
  // Every quote inside a name is escaped: the id stays one string, no URL attribute appears.
  EXPECT_FALSE(contains(dot, "URL=\"")) << dot;
  EXPECT_TRUE(contains(dot, "\"a\\\", URL=\\\"http://evil.example/\\nx\\\\\" [label=\"a\\\", URL="))
      << dot;
  EXPECT_TRUE(contains(dot, "digraph \"evil\\\"flow\"")) << dot;
  EXPECT_FALSE(contains(dot, "evil.example/\nx")) << "a raw newline in a name: " << dot;
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
