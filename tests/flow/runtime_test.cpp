// The Runtime: exec, post, wait, shutdown, full slots.
#include <gtest/gtest.h>

#include <mutex>

#include <atomic>
#include <optional>
#include <random>
#include <thread>

#include "support/flow_helpers.hpp"

using namespace flow_test;
using td::Json;

TEST(Runtime, UnknownFlowRoutineSlotOrWorkerIsAnErrorNamingIt) {
  Fixture f;
  td::Flow flow("known");
  flow.add_routine(atomic_counter(), "count");
  f.registry.register_by_name("known", flow);

  auto exec = f.rt.exec("unknown");
  ASSERT_FALSE(exec);
  EXPECT_EQ(exec.error().kind, td::ErrorKind::not_found);
  EXPECT_EQ(exec.error().message, "exec: no flow 'unknown' (registered: known)");

  auto before = f.rt.post("known", "count", "in", {{"x", 1}});
  ASSERT_FALSE(before);
  EXPECT_TRUE(contains(before.error().message, "flow 'known' has no running worker: call exec"));

  ASSERT_TRUE(f.rt.exec("known"));
  auto e1 = f.rt.post("nope", "count", "in", {});
  EXPECT_EQ(e1.error().message, "no flow 'nope' (registered: known)");
  auto e2 = f.rt.post("known", "counter", "in", {});
  EXPECT_EQ(e2.error().message, "post: flow 'known' has no routine 'counter' (routines: count)");
  auto e3 = f.rt.post("known", "count", "input", {});
  EXPECT_EQ(e3.error().message, "post: routine 'count' has no slot 'input' (slots: in)");
  auto e4 = f.rt.post("known", "count", "in", {}, {.worker_id = "known#99"});
  EXPECT_EQ(e4.error().message, "no worker 'known#99'");
  auto e5 = f.rt.post("known", "count", "in", Json::array());
  EXPECT_TRUE(contains(e5.error().message, "must be a JSON object, not array"));
  EXPECT_EQ(e1.error().kind, td::ErrorKind::not_found);
}

TEST(Runtime, PostGoesToTheRunningWorkerSoStateIsShared) {
  Fixture f;
  td::Flow flow("shared");
  flow.add_routine(atomic_counter(), "count");
  f.registry.register_by_name("shared", flow);
  auto worker = f.rt.exec("shared");
  ASSERT_TRUE(worker);
  for (int i = 0; i < 25; ++i) {
    auto posted = f.rt.post("shared", "count", "in", {{"i", i}});
    ASSERT_TRUE(posted);
    EXPECT_EQ(posted->worker_id, *worker);
  }
  ASSERT_TRUE(f.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(f.rt.worker_state(*worker)->get_routine_state("counter").value()["count"], 25);
  // A second exec makes a new worker that posts now go to; the first keeps its state.
  auto second = f.rt.exec("shared");
  ASSERT_TRUE(second);
  EXPECT_NE(*second, *worker);
  ASSERT_TRUE(f.rt.post("shared", "count", "in", {}));
  ASSERT_TRUE(f.rt.post("shared", "count", "in", {}, {.worker_id = *worker}));
  ASSERT_TRUE(f.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(f.rt.worker_state(*second)->get_routine_state("counter").value()["count"], 1);
  EXPECT_EQ(f.rt.worker_state(*worker)->get_routine_state("counter").value()["count"], 26);
}

TEST(Runtime, APayloadMovesAlongAChainWithoutACopy) {
  // A JSON object's members live in one heap block that a move hands on and a copy does not:
  // the same block at every hop means no copy from the post to the last routine.
  Fixture f;
  std::mutex mutex;
  std::vector<const void*> seen;
  auto pass_on = [&](td::Routine*& self) {
    return [&](td::SlotData& in, const Json&, td::FlowWorkerState&) {
      for (Json& item : in.items("in")) {
        {
          std::lock_guard lock(mutex);
          seen.push_back(item.get_ptr<const Json::object_t*>());
        }
        if (self) self->emit("out", std::move(item));
      }
    };
  };
  td::Routine* first = nullptr;
  td::Routine* none = nullptr;
  auto a = routine({"in"}, {{"out", {}}}, pass_on(first));
  first = a.get();
  td::Flow flow("moves");
  flow.add_routine(std::move(a), "a");
  flow.add_routine(routine({"in"}, {}, pass_on(none)), "b");
  flow.connect("a", "out", "b", "in");
  f.registry.register_by_name("moves", flow);
  ASSERT_TRUE(f.rt.exec("moves"));
  Json payload = {{"text", std::string(100, 'x')}, {"n", 1}};
  const void* posted = payload.get_ptr<const Json::object_t*>();
  ASSERT_TRUE(f.rt.post("moves", "a", "in", std::move(payload)));
  ASSERT_TRUE(f.rt.wait_until_all_jobs_finished(10s));
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, (std::vector<const void*>{posted, posted}));
  // SlotData::items of a slot the activation does not have is empty, not an error.
  td::SlotData data;
  EXPECT_TRUE(data.items("missing").empty());
}

TEST(Runtime, WaitUntilAllJobsFinishedCoversEverythingAJobCaused) {
  Fixture f(2);
  td::Flow flow("chain");
  std::atomic<int> finished_at_end{0};
  flow.add_routine(relay(), "a");
  auto slow = routine({"in"}, {{"out", {}}}, nullptr);
  td::Routine* self = slow.get();
  slow->set_logic([self](const td::SlotData& in, const Json&, td::FlowWorkerState&) {
    std::this_thread::sleep_for(50ms);
    for (auto& item : in["in"]) self->emit("out", item);
  });
  flow.add_routine(std::move(slow), "slow");
  flow.add_routine(routine({"in"}, {},
                           [&](auto& in, auto&, auto&) {
                             finished_at_end += static_cast<int>(in["in"].size());
                           }),
                   "end");
  flow.connect("a", "out", "slow", "in");
  flow.connect("slow", "out", "end", "in");
  f.registry.register_by_name("chain", flow);
  ASSERT_TRUE(f.rt.exec("chain"));
  auto posted = f.rt.post("chain", "a", "in", {{"n", 1}});
  ASSERT_TRUE(posted);
  EXPECT_FALSE(f.rt.wait_until_all_jobs_finished(5ms));  // the slow hop is still under way
  ASSERT_TRUE(f.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(finished_at_end.load(), 1);  // the last routine ran before the wait returned
  EXPECT_EQ(posted->job->status(), td::JobStatus::completed);
}

namespace {

// Twenty jobs, one at a time, 3 ms apart; how often the pool slept meanwhile.
long sleeps_over_a_trickle(std::chrono::microseconds idle_spin) {
  td::FlowRegistry registry;
  td::Flow flow("trickle");
  flow.add_routine(atomic_counter(), "count");
  registry.register_by_name("trickle", flow);
  td::Runtime rt({.thread_pool_size = 1, .registry = &registry, .idle_spin = idle_spin});
  EXPECT_TRUE(rt.exec("trickle"));
  EXPECT_TRUE(rt.post("trickle", "count", "in", {{"x", 0}}));
  EXPECT_TRUE(rt.wait_until_all_jobs_finished(std::chrono::seconds(10)));
  const std::uint64_t before = rt.pool_sleeps();
  for (int i = 1; i <= 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    EXPECT_TRUE(rt.post("trickle", "count", "in", {{"x", i}}));
    EXPECT_TRUE(rt.wait_until_all_jobs_finished(std::chrono::seconds(10)));
  }
  return static_cast<long>(rt.pool_sleeps() - before);
}

}  // namespace

TEST(Runtime, AnIdleSpinTakesATrickleOfJobsWithoutSleepingBetweenThem) {
  EXPECT_GE(sleeps_over_a_trickle(std::chrono::microseconds(0)), 15)
      << "without a spin, the pool thread sleeps between jobs and is woken for each";
  // Spinning longer than the gaps, it never sleeps: the count is the scheduler's own, so the
  // posting thread's lock waits (and, under TSan, the runtime's) do not blur it.
  EXPECT_EQ(sleeps_over_a_trickle(std::chrono::seconds(5)), 0)
      << "spinning longer than the gaps, it is not woken for each job";
  try {
    td::Runtime rt({.idle_spin = std::chrono::microseconds(-1)});
    FAIL() << "a negative spin is refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "idle_spin must not be negative, got -1 us")) << e.what();
  }
}

TEST(Runtime, ShutdownDrainsThenRefusesWork) {
  td::FlowRegistry registry;
  std::string worker;
  std::shared_ptr<td::JobContext> last;
  std::atomic<int> ran{0};
  auto rt = std::make_unique<td::Runtime>(
      td::RuntimeOptions{.thread_pool_size = 2, .registry = &registry});
  td::Flow flow("drain");
  flow.add_routine(routine({"in"}, {},
                           [&](auto& in, auto&, auto&) {
                             std::this_thread::sleep_for(1ms);
                             ran += static_cast<int>(in["in"].size());
                           }),
                   "r");
  registry.register_by_name("drain", flow);
  worker = rt->exec("drain").value();
  for (int i = 0; i < 100; ++i) last = rt->post("drain", "r", "in", {{"i", i}})->job;
  rt->shutdown();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_EQ(last->status(), td::JobStatus::completed);
  EXPECT_EQ(rt->worker_state(worker)->status(), td::WorkerStatus::completed);
  auto refused = rt->post("drain", "r", "in", {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "post: the runtime is shut down");
  rt.reset();  // a second shutdown, from the destructor, is harmless
}

TEST(Runtime, ShutdownWithoutWaitingCancelsQueuedJobs) {
  Fixture f(1);
  td::Flow flow("cancel");
  std::atomic<bool> release{false};
  flow.add_routine(routine({"in"}, {},
                           [&](auto&, auto&, auto&) {
                             while (!release) std::this_thread::sleep_for(1ms);
                           }),
                   "r");
  f.registry.register_by_name("cancel", flow);
  auto worker = f.rt.exec("cancel").value();
  auto first = f.rt.post("cancel", "r", "in", {})->job;
  while (first->status() != td::JobStatus::running) std::this_thread::sleep_for(1ms);
  auto queued = f.rt.post("cancel", "r", "in", {})->job;
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    release = true;
  });
  f.rt.shutdown(false);
  releaser.join();
  EXPECT_EQ(queued->status(), td::JobStatus::cancelled);
  EXPECT_EQ(first->status(), td::JobStatus::completed);  // running logic was let finish
  EXPECT_EQ(f.rt.worker_state(worker)->status(), td::WorkerStatus::cancelled);
}

TEST(Runtime, AFullSlotRefusesAPostNamingTheSlot) {
  Fixture f(1);
  td::Flow flow("full");
  auto r = std::make_unique<td::Routine>();
  r->add_slot("in", 2, 0.5);
  r->set_logic([](auto&, auto&, auto&) {});
  flow.add_routine(std::move(r), "r");
  f.registry.register_by_name("full", flow);
  auto worker = f.rt.exec("full").value();
  ASSERT_TRUE(f.rt.pause(worker));
  ASSERT_TRUE(f.rt.post("full", "r", "in", {}));
  auto status = f.rt.slot_status(worker);
  EXPECT_EQ(status[0].pressure, "high");  // 1 of 2 is at the 0.5 watermark
  ASSERT_TRUE(f.rt.post("full", "r", "in", {}));
  EXPECT_EQ(f.rt.slot_status(worker)[0].pressure, "critical");
  auto refused = f.rt.post("full", "r", "in", {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, td::ErrorKind::queue_full);
  EXPECT_EQ(refused.error().message, "slot 'in' of routine 'r' is full (2 items)");
  ASSERT_TRUE(f.rt.resume(worker));
  EXPECT_TRUE(f.rt.wait_until_all_jobs_finished(10s));  // the refused post is no job
}

TEST(Runtime, ACycleIsAWarningAndTheHopLimitEndsAJobCirclingIt) {
  td::FlowRegistry registry;
  td::Runtime rt({.thread_pool_size = 2, .registry = &registry, .max_hops = 50});
  td::Flow flow("loop");
  flow.add_routine(relay(), "a");
  flow.add_routine(relay(), "b");
  flow.connect("a", "out", "b", "in");
  flow.connect("b", "out", "a", "in");
  bool warned = false;
  for (const auto& issue : flow.validate())
    warned |= issue.severity == td::ValidationIssue::Severity::warning &&
              contains(issue.describe(), "routines a -> b -> a: form a cycle");
  EXPECT_TRUE(warned);
  registry.register_by_name("loop", flow);
  ASSERT_TRUE(rt.exec("loop"));
  auto job = rt.post("loop", "a", "in", {{"n", 1}}).value().job;
  ASSERT_TRUE(job->wait(10s)) << "the cycle was not stopped";
  EXPECT_EQ(job->status(), td::JobStatus::failed);
  EXPECT_TRUE(contains(job->error()->message, "passed 50 routines (the hop limit"))
      << job->error()->describe();
  std::size_t hops = 0;
  for (const auto& entry : job->trace_entries()) hops += entry.action == "start";
  EXPECT_EQ(hops, 51u);  // the posted item's routine, then 50 hops
}

TEST(Flow, ARoutineConnectedToItselfIsACycleWarning) {
  td::Flow flow("self");
  flow.add_routine(relay(), "r");
  flow.connect("r", "out", "r", "in");
  bool warned = false;
  for (const auto& issue : flow.validate())
    warned |= contains(issue.describe(), "routines r -> r: form a cycle");
  EXPECT_TRUE(warned);
}
