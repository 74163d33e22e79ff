// Routines: slots, events, config, emit.
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
                       "retry_backoff must be from 1 to 1000, got 0.5"));
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
