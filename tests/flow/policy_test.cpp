// Activation policies: what each takes, and when it runs.
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
  td::ManualClock clock;  // the policies' time moves only when the test moves it
  Recorder fast, slow;
  td::Flow flow("interval");
  auto a = routine({"in"}, {}, fast.logic());
  a->set_activation_policy(td::ActivationPolicy::time_interval(150ms));
  auto b = routine({"in"}, {}, slow.logic());
  b->set_activation_policy(td::ActivationPolicy::time_interval(300ms));
  flow.add_routine(std::move(a), "a");
  flow.add_routine(std::move(b), "b");
  Harness h(flow, 2, &clock);
  // The first items run at once (nothing ran before).
  h.post("a", "in", {{"n", 0}});
  h.post("b", "in", {{"n", 0}});
  ASSERT_TRUE(eventually([&] { return fast.count() == 1 && slow.count() == 1; }));
  // Items posted now wait for each routine's own interval, with no further post to trigger
  // them: the runtime's timer waits for the earlier one, a's.
  for (int i = 1; i <= 3; ++i) {
    h.post("a", "in", {{"n", i}});
    h.post("b", "in", {{"n", i}});
  }
  ASSERT_TRUE(eventually([&] { return clock.waiters() == 1; }));
  clock.advance(149ms);
  EXPECT_EQ(fast.count(), 1u);               // not yet
  ASSERT_TRUE(clock.advance_to_next_due());  // 150 ms after a's first run
  ASSERT_TRUE(eventually([&] { return fast.count() == 2 && clock.waiters() == 1; }));
  EXPECT_EQ(slow.count(), 1u);               // b keeps its own, longer interval
  ASSERT_TRUE(clock.advance_to_next_due());  // 300 ms after b's first run
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  ASSERT_EQ(fast.activations.size(), 2u);
  ASSERT_EQ(slow.activations.size(), 2u);
  EXPECT_EQ(fast.activations[1].size(), 3u);  // everything queued meanwhile, at once
  EXPECT_EQ(slow.activations[1].size(), 3u);
  // Exactly one interval between a routine's runs, by the policy's clock.
  EXPECT_EQ(fast.messages[1]["since_last_ms"].get<int>(), 150) << fast.messages[1];
  EXPECT_EQ(slow.messages[1]["since_last_ms"].get<int>(), 300) << slow.messages[1];
  EXPECT_EQ(fast.messages[1]["interval_ms"], 150);
  EXPECT_THROW(td::ActivationPolicy::time_interval(0ms), td::UsageError);
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
