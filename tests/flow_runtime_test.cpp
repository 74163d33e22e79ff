// The Runtime, WorkerState in flows, JobContext, error strategies and hooks (issue points 4-7).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "support/flow_helpers.hpp"

using namespace flow_test;
using td::Json;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A counter routine: each item adds one to routine state "counter", atomically.
std::unique_ptr<td::Routine> atomic_counter(std::size_t concurrency = 1) {
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
  explicit Fixture(std::size_t threads = 2, td::RuntimeHooks hooks = {})
      : rt({.thread_pool_size = threads, .registry = &registry, .hooks = std::move(hooks)}) {}
  td::FlowRegistry registry;
  td::Runtime rt;
};

}  // namespace

// --- 4. Runtime --------------------------------------------------------------------------------

TEST(Runtime, RejectsAnEmptyPool) {
  try {
    td::Runtime rt({.thread_pool_size = 0});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "thread_pool_size must be at least 1, got 0"));
  }
}

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

// --- 5. WorkerState ----------------------------------------------------------------------------

TEST(FlowWorkerState, TwentyThreadsPostingTenThousandJobsCountExactly) {
  Fixture f(4);
  td::Flow flow("counter");
  // Two routines, each running up to four activations at once, both update the same state
  // with the atomic read-modify-write: 10,000 jobs reach both, so the count is 20,000.
  flow.add_routine(relay(), "entry");
  flow.add_routine(atomic_counter(4), "count_a");
  flow.add_routine(atomic_counter(4), "count_b");
  flow.connect("entry", "out", "count_a", "in");
  flow.connect("entry", "out", "count_b", "in");
  f.registry.register_by_name("counter", flow);
  auto worker = f.rt.exec("counter").value();
  std::vector<std::thread> posters;
  std::atomic<int> refused{0};
  for (int t = 0; t < 20; ++t)
    posters.emplace_back([&, t] {
      std::mt19937 rng(t);  // seeded: each poster pauses at its own random moments
      for (int i = 0; i < 500; ++i) {
        for (;;) {
          auto posted = f.rt.post("counter", "entry", "in", {{"t", t}, {"i", i}});
          if (posted) break;
          ASSERT_EQ(posted.error().kind, td::ErrorKind::queue_full) << posted.error().message;
          ++refused;  // a full slot: back off and post again
          std::this_thread::sleep_for(100us);
        }
        if (rng() % 64 == 0) std::this_thread::yield();
      }
    });
  for (auto& p : posters) p.join();
  ASSERT_TRUE(f.rt.wait_until_all_jobs_finished(60s));
  auto* state = f.rt.worker_state(worker);
  EXPECT_EQ(state->get_routine_state("counter").value()["count"], 20'000);
  EXPECT_EQ(state->jobs_processed(), 10'000u);
  EXPECT_EQ(state->jobs_failed(), 0u);
}

TEST(FlowWorkerState, IdentityStatusCountersAndBoundedHistory) {
  td::FlowRegistry registry;
  std::vector<td::WorkerStatus> seen_in_logic;
  td::Runtime rt({.thread_pool_size = 1, .registry = &registry, .history_limit = 5});
  td::Flow flow("life");
  auto one_at_a_time = routine({"in"}, {}, [&](auto&, auto&, td::FlowWorkerState& s) {
    seen_in_logic.push_back(s.status());
  });
  one_at_a_time->set_activation_policy(td::ActivationPolicy::batch_size(1));
  flow.add_routine(std::move(one_at_a_time), "r");
  registry.register_by_name("life", flow);
  auto id = rt.exec("life").value();
  auto* state = rt.worker_state(id);
  EXPECT_EQ(state->worker_id(), id);
  EXPECT_EQ(state->flow_id(), "life");
  EXPECT_EQ(state->status(), td::WorkerStatus::idle);
  for (int i = 0; i < 8; ++i) rt.post("life", "r", "in", {});
  ASSERT_TRUE(rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(seen_in_logic.front(), td::WorkerStatus::running);
  EXPECT_EQ(state->status(), td::WorkerStatus::idle);
  ASSERT_TRUE(rt.pause(id));
  EXPECT_EQ(state->status(), td::WorkerStatus::paused);
  ASSERT_TRUE(rt.resume(id));
  EXPECT_EQ(state->jobs_processed(), 8u);
  auto history = state->execution_history();
  EXPECT_EQ(history.size(), 5u);  // bounded
  EXPECT_EQ(state->history_dropped(), 3u);
  EXPECT_EQ(history.back().routine, "r");
  EXPECT_EQ(history.back().action, "completed");
  rt.shutdown();
  EXPECT_EQ(state->status(), td::WorkerStatus::completed);
  EXPECT_EQ(td::worker_status_from("paused"), td::WorkerStatus::paused);
}

TEST(FlowWorkerState, SavesAndRestoresAsJson) {
  Fixture f(2);
  td::Flow flow("saved");
  flow.add_routine(atomic_counter(), "count");
  f.registry.register_by_name("saved", flow);
  auto first = f.rt.exec("saved").value();
  for (int i = 0; i < 7; ++i) f.rt.post("saved", "count", "in", {});
  ASSERT_TRUE(f.rt.wait_until_all_jobs_finished(10s));
  const Json snapshot = f.rt.worker_state(first)->to_json();
  EXPECT_EQ(snapshot["routine_states"]["counter"]["count"], 7);
  EXPECT_EQ(snapshot["jobs_processed"], 7);
  EXPECT_EQ(snapshot["flow_id"], "saved");

  auto restored = f.rt.exec("saved", Json::parse(snapshot.dump()));
  ASSERT_TRUE(restored);
  for (int i = 0; i < 3; ++i) f.rt.post("saved", "count", "in", {});
  ASSERT_TRUE(f.rt.wait_until_all_jobs_finished(10s));
  auto* state = f.rt.worker_state(*restored);
  EXPECT_EQ(state->get_routine_state("counter").value()["count"], 10);  // it went on from 7
  EXPECT_EQ(state->jobs_processed(), 10u);
  const auto history = state->execution_history();
  ASSERT_GT(history.size(), snapshot["history"].size());  // the saved records, then new ones
  EXPECT_EQ(history.front().action, snapshot["history"][0]["action"]);
  EXPECT_EQ(history.back().routine, "count");

  auto bad = f.rt.exec("saved", Json{{"routine_states", Json::array()}});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(contains(bad.error().message, "'routine_states' must be object, not array"))
      << bad.error().message;
}

TEST(FlowWorkerState, FrameworkBookkeepingNeverOverwritesWhatARoutineStored) {
  Fixture f(1);
  td::Flow flow("own");
  auto r = routine({"in"}, {}, [](const td::SlotData& in, const Json&, td::FlowWorkerState& state) {
    state.update_routine_state("r", {{"mine", true}, {"status", "my own status"}});
    if (in["in"].at(0).value("fail", false)) throw std::runtime_error("boom");
  });
  r->set_activation_policy(td::ActivationPolicy::batch_size(1));
  r->set_error_handler({.strategy = td::ErrorStrategy::SKIP});
  flow.add_routine(std::move(r), "r");
  f.registry.register_by_name("own", flow);
  auto worker = f.rt.exec("own").value();
  f.rt.post("own", "r", "in", {{"fail", false}});
  auto skipped = f.rt.post("own", "r", "in", {{"fail", true}})->job;
  ASSERT_TRUE(f.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(f.rt.worker_state(worker)->get_routine_state("r").value(),
            (Json{{"mine", true}, {"status", "my own status"}}));
  EXPECT_EQ(skipped->get_routine_data("r", "status"), "skipped");  // recorded on the job
  EXPECT_EQ(f.rt.worker_state(worker)->routine_states().size(), 1u);
}

// --- 6. JobContext -----------------------------------------------------------------------------

TEST(JobContext, CurrentJobIsVisibleInEveryRoutineItReachesThroughEmit) {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> seen;  // (routine, job id)
  std::vector<td::JobStatus> statuses_at_start;
  td::RuntimeHooks hooks;
  hooks.on_job_start = [&](const td::JobContext& job) {
    std::lock_guard lock(mutex);
    statuses_at_start.push_back(job.status());
  };
  Fixture f(1, hooks);  // one pool thread: the trace below is in a fixed order
  td::Flow flow("jobs");
  auto first = routine({"in"}, {{"out", {}}}, nullptr);
  td::Routine* self = first.get();
  first->set_logic([&, self](const td::SlotData& in, const Json&, td::FlowWorkerState&) {
    td::JobContext* job = td::current_job();
    ASSERT_NE(job, nullptr);
    job->set_data("seen_by_first", true);
    job->set_routine_data("first", "input", in["in"].at(0));
    {
      std::lock_guard lock(mutex);
      seen.emplace_back("first", job->job_id());
    }
    self->emit("out", {{"x", 1}});
  });
  flow.add_routine(std::move(first), "first");
  flow.add_routine(routine({"in"}, {},
                           [&](auto&, auto&, auto&) {
                             td::JobContext* job = td::current_job();
                             ASSERT_NE(job, nullptr);
                             job->trace("second", "custom", {{"note", "hello"}});
                             std::lock_guard lock(mutex);
                             seen.emplace_back("second", job->job_id());
                             EXPECT_EQ(job->get_data("seen_by_first"), true);
                           }),
                   "second");
  flow.connect("first", "out", "second", "in");
  f.registry.register_by_name("jobs", flow);
  ASSERT_TRUE(f.rt.exec("jobs"));
  auto posted = f.rt.post("jobs", "first", "in", {{"n", 42}},
                          {.job_id = "order-17", .metadata = {{"user", "ada"}}});
  ASSERT_TRUE(posted);
  auto job = posted->job;
  EXPECT_EQ(job->job_id(), "order-17");
  ASSERT_TRUE(job->wait(10s));
  EXPECT_EQ(job->status(), td::JobStatus::completed);
  EXPECT_EQ(job->metadata()["user"], "ada");
  EXPECT_EQ(job->routine_data("first")["input"]["n"], 42);
  EXPECT_TRUE(job->routine_data("second").empty());
  EXPECT_EQ(statuses_at_start, std::vector<td::JobStatus>{td::JobStatus::running});
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"first", "order-17"},
                                                                    {"second", "order-17"}}));
  std::vector<std::string> trace;
  for (const auto& t : job->trace_entries()) trace.push_back(t.routine + ":" + t.action);
  EXPECT_EQ(trace, (std::vector<std::string>{"first:start", "first:end", "second:start",
                                             "second:custom", "second:end"}));
  EXPECT_TRUE(job->started_at() && job->finished_at());
  EXPECT_GE(*job->finished_at(), *job->started_at());
  EXPECT_EQ(job->to_json()["status"], "completed");
  EXPECT_EQ(td::current_job(), nullptr);  // outside of any routine
}

// --- 7. Error strategies and hooks -------------------------------------------------------------

namespace {

// entry -> flaky -> after; `flaky` throws for items whose "fail" count is not used up yet.
struct FlakyFlow {
  explicit FlakyFlow(std::optional<td::ErrorHandler> routine_handler,
                     std::optional<td::ErrorHandler> flow_handler = std::nullopt,
                     td::RuntimeHooks hooks = {}, std::size_t threads = 2)
      : f(threads, std::move(hooks)) {
    td::Flow flow("flaky");
    auto r = routine({"in"}, {{"out", {}}}, nullptr);
    td::Routine* self = r.get();
    r->set_logic([this, self](const td::SlotData& in, const Json&, td::FlowWorkerState&) {
      std::lock_guard lock(mutex);
      attempts.push_back(std::chrono::steady_clock::now());
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
  Fixture f;
  std::string worker;
  std::mutex mutex;
  int failures_left = -1;
  std::vector<std::chrono::steady_clock::time_point> attempts;
  std::atomic<int> after{0};
};

}  // namespace

TEST(ErrorStrategy, StopFailsTheJobAndStopsTheWorker) {
  FlakyFlow flow(std::nullopt);  // no handler anywhere: STOP
  auto job = flow.post(1);
  ASSERT_TRUE(job->wait(10s));
  EXPECT_EQ(job->status(), td::JobStatus::failed);
  EXPECT_EQ(job->error().value(), "routine 'flaky' failed: flaky failure");
  EXPECT_EQ(flow.after.load(), 0);
  auto* state = flow.f.rt.worker_state(flow.worker);
  EXPECT_EQ(state->status(), td::WorkerStatus::failed);
  EXPECT_EQ(state->jobs_failed(), 1u);
  auto refused = flow.f.rt.post("flaky", "flaky", "in", {});
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error().message, "has no running worker"))
      << refused.error().message;
  auto direct = flow.f.rt.post("flaky", "flaky", "in", {}, {.worker_id = flow.worker});
  ASSERT_FALSE(direct);
  EXPECT_EQ(direct.error().message,
            "worker '" + flow.worker + "' has stopped: routine 'flaky' failed: flaky failure");
  EXPECT_TRUE(flow.f.rt.exec("flaky"));  // a fresh worker
}

TEST(ErrorStrategy, ContinueRecordsTheErrorAndGoesOn) {
  FlakyFlow flow(td::ErrorHandler{.strategy = td::ErrorStrategy::CONTINUE});
  auto failed = flow.post(1);
  auto fine = flow.post(0);
  ASSERT_TRUE(flow.f.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(failed->status(), td::JobStatus::completed);
  ASSERT_EQ(failed->errors().size(), 1u);
  EXPECT_EQ(failed->errors()[0]["error"], "flaky failure");
  EXPECT_EQ(fine->status(), td::JobStatus::completed);
  EXPECT_EQ(flow.after.load(), 1);  // the failed item emitted nothing
  auto history = flow.f.rt.worker_state(flow.worker)->execution_history();
  EXPECT_EQ(history.front().action, "error_continued");
}

TEST(ErrorStrategy, RetryWaitsDelayTimesBackoffAndSucceeds) {
  FlakyFlow flow(td::ErrorHandler{.strategy = td::ErrorStrategy::RETRY,
                                  .max_retries = 3,
                                  .retry_delay = 40ms,
                                  .retry_backoff = 2.0});
  auto job = flow.post(2);  // fails twice, then works
  ASSERT_TRUE(flow.f.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(job->status(), td::JobStatus::completed);
  ASSERT_EQ(flow.attempts.size(), 3u);
  EXPECT_GE(flow.attempts[1] - flow.attempts[0], 40ms);
  EXPECT_GE(flow.attempts[2] - flow.attempts[1], 80ms);  // 40 ms x 2^1
  EXPECT_EQ(flow.after.load(), 1);
  EXPECT_EQ(flow.f.rt.worker_state(flow.worker)->status(), td::WorkerStatus::idle);
}

TEST(ErrorStrategy, RetryGivesUpAfterMaxRetriesAndStops) {
  FlakyFlow flow(td::ErrorHandler{.strategy = td::ErrorStrategy::RETRY,
                                  .max_retries = 2,
                                  .retry_delay = 1ms,
                                  .retry_backoff = 1.0});
  auto job = flow.post(5);
  ASSERT_TRUE(job->wait(10s));
  EXPECT_EQ(flow.attempts.size(), 3u);  // the first and two retries
  EXPECT_EQ(job->status(), td::JobStatus::failed);
  EXPECT_EQ(job->error().value(), "routine 'flaky' failed after 3 attempts: flaky failure");
  EXPECT_EQ(flow.f.rt.worker_state(flow.worker)->status(), td::WorkerStatus::failed);
}

TEST(ErrorStrategy, SkipMarksTheRoutineSkippedAndTheJobCompletes) {
  FlakyFlow flow(td::ErrorHandler{.strategy = td::ErrorStrategy::SKIP});
  auto job = flow.post(1);
  ASSERT_TRUE(job->wait(10s));
  EXPECT_EQ(job->status(), td::JobStatus::completed);
  EXPECT_EQ(job->get_routine_data("flaky", "status"), "skipped");
  EXPECT_EQ(job->get_routine_data("flaky", "error"), "flaky failure");
  EXPECT_TRUE(job->errors().empty());
  EXPECT_EQ(flow.after.load(), 0);
  EXPECT_EQ(flow.f.rt.worker_state(flow.worker)->status(), td::WorkerStatus::idle);
}

TEST(ErrorStrategy, TheRoutinesHandlerWinsOverTheFlows) {
  // The flow says STOP-after-retry; the routine says CONTINUE: the routine's wins.
  FlakyFlow flow(td::ErrorHandler{.strategy = td::ErrorStrategy::CONTINUE},
                 td::ErrorHandler{.strategy = td::ErrorStrategy::RETRY, .max_retries = 0});
  auto job = flow.post(1);
  ASSERT_TRUE(job->wait(10s));
  EXPECT_EQ(job->status(), td::JobStatus::completed);
  EXPECT_EQ(flow.attempts.size(), 1u);
  // And with only the flow's handler, the flow's acts (SKIP here).
  FlakyFlow by_flow(std::nullopt, td::ErrorHandler{.strategy = td::ErrorStrategy::SKIP});
  auto skipped = by_flow.post(1);
  ASSERT_TRUE(skipped->wait(10s));
  EXPECT_EQ(skipped->get_routine_data("flaky", "status"), "skipped");
}

TEST(Hooks, FireForWorkersJobsRoutinesEmitsAndEnqueues) {
  std::mutex mutex;
  std::vector<std::string> events;
  auto log = [&](std::string e) {
    std::lock_guard lock(mutex);
    events.push_back(std::move(e));
  };
  td::RuntimeHooks hooks;
  hooks.on_worker_start = [&](const td::FlowWorkerState& s) { log("worker_start:" + s.flow_id()); };
  hooks.on_worker_end = [&](const td::FlowWorkerState& s) { log("worker_end:" + s.flow_id()); };
  hooks.on_job_start = [&](const td::JobContext& j) { log("job_start:" + j.job_id()); };
  hooks.on_job_end = [&](const td::JobContext& j) {
    log("job_end:" + j.job_id() + ":" + to_string(j.status()));
  };
  hooks.on_routine_start = [&](std::string_view r, const td::JobContext&) {
    log("routine_start:" + std::string(r));
  };
  hooks.on_routine_end = [&](std::string_view r, const td::JobContext&, const std::string* e) {
    log("routine_end:" + std::string(r) + (e ? ":" + *e : ""));
  };
  hooks.on_emit = [&](std::string_view r, std::string_view ev, const Json&, const td::JobContext&) {
    log("emit:" + std::string(r) + "." + std::string(ev));
  };
  hooks.before_enqueue = [&](std::string_view r, std::string_view s, const Json& payload,
                             const td::JobContext&) {
    log("enqueue:" + std::string(r) + "." + std::string(s));
    return !payload.value("refuse", false);
  };
  {
    // One pool thread, so that the order of the hooks is the order of the work.
    FlakyFlow flow(std::nullopt, std::nullopt, hooks, 1);
    auto job = flow.f.rt.post("flaky", "flaky", "in", {{"fail", 0}}, {.job_id = "j1"});
    ASSERT_TRUE(job);
    ASSERT_TRUE(flow.f.rt.wait_until_all_jobs_finished(10s));
    auto refused = flow.f.rt.post("flaky", "flaky", "in", {{"refuse", true}});
    ASSERT_FALSE(refused);
    EXPECT_TRUE(contains(refused.error().message, "before_enqueue hook refused the item"));
  }  // the runtime shuts down here
  EXPECT_EQ(events, (std::vector<std::string>{
                        "worker_start:flaky", "enqueue:flaky.in", "job_start:j1",
                        "routine_start:flaky", "emit:flaky.out", "enqueue:after.in",
                        "routine_end:flaky", "routine_start:after", "routine_end:after",
                        "job_end:j1:completed", "enqueue:flaky.in", "worker_end:flaky"}));
}
