// Error strategies: STOP, CONTINUE, RETRY, SKIP, and whose handler wins.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "support/flow_helpers.hpp"

using namespace flow_test;
using td::Json;

TEST(ErrorStrategy, StopFailsTheJobAndStopsTheWorker) {
  FlakyFlow flow(std::nullopt);  // no handler anywhere: STOP
  auto job = flow.post(1);
  ASSERT_TRUE(job->wait(10s));
  EXPECT_EQ(job->status(), td::JobStatus::failed);
  EXPECT_EQ(job->error().value().describe(), "routine 'flaky' failed: flaky failure");
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
  td::ManualClock clock;  // time moves only when the test moves it
  FlakyFlow flow(td::ErrorHandler{.strategy = td::ErrorStrategy::RETRY,
                                  .max_retries = 3,
                                  .retry_delay = 40ms,
                                  .retry_backoff = 2.0},
                 std::nullopt, {}, 2, clock);
  auto job = flow.post(2);  // fails twice, then works
  for (std::size_t failed = 1; failed <= 2; ++failed) {
    // The retry is parked on the runtime's timer, and waits there while time stands still.
    ASSERT_TRUE(eventually([&] { return flow.attempt_count() == failed && clock.waiters() == 1; }));
    clock.advance(1ms);
    EXPECT_EQ(flow.attempt_count(), failed);
    EXPECT_EQ(job->status(), td::JobStatus::running);
    ASSERT_TRUE(clock.advance_to_next_due());
  }
  ASSERT_TRUE(flow.f.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(job->status(), td::JobStatus::completed);
  ASSERT_EQ(flow.attempts.size(), 3u);
  EXPECT_EQ(flow.attempts[1] - flow.attempts[0], 40ms);  // retry_delay
  EXPECT_EQ(flow.attempts[2] - flow.attempts[1], 80ms);  // 40 ms x 2^1
  EXPECT_EQ(flow.after.load(), 1);
  EXPECT_EQ(flow.f.rt.worker_state(flow.worker)->status(), td::WorkerStatus::idle);
}

TEST(ErrorStrategy, ARetryGetsTheItemsAsDeliveredThoughLogicMovedThemOut) {
  Fixture f;
  std::mutex mutex;
  std::vector<Json> taken;  // what each attempt moved out of its slot
  auto r = routine({"in"}, {}, [&](td::SlotData& in, const Json&, td::FlowWorkerState&) {
    std::lock_guard lock(mutex);
    for (Json& item : in.items("in")) taken.push_back(std::move(item));
    if (taken.size() < 3) throw std::runtime_error("not yet");
  });
  r->set_error_handler({.strategy = td::ErrorStrategy::RETRY,
                        .max_retries = 3,
                        .retry_delay = 1ms,
                        .retry_backoff = 1.0});
  td::Flow flow("mover");
  flow.add_routine(std::move(r), "mover");
  f.registry.register_by_name("mover", flow);
  ASSERT_TRUE(f.rt.exec("mover"));
  auto posted = f.rt.post("mover", "mover", "in", {{"v", 7}});
  ASSERT_TRUE(posted);
  ASSERT_TRUE(posted->job->wait(10s));
  EXPECT_EQ(posted->job->status(), td::JobStatus::completed);
  std::lock_guard lock(mutex);
  EXPECT_EQ(taken, (std::vector<Json>(3, Json{{"v", 7}})));
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
  EXPECT_EQ(job->error().value().describe(),
            "routine 'flaky' failed after 3 attempts: flaky failure");
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

TEST(ErrorStrategy, AKillSwitchInARoutineStopsItsWorkerWhateverTheStrategy) {
  Fixture f;
  td::Flow flow("switch");
  std::atomic<int> calls{0};
  auto r = routine({"in"}, {}, [&](auto&, auto&, auto&) {
    ++calls;
    throw td::KillSwitch("the disk is gone");
  });
  r->set_error_handler(
      {.strategy = td::ErrorStrategy::RETRY, .max_retries = 5, .retry_delay = 0ms});
  flow.add_routine(std::move(r), "r");
  f.registry.register_by_name("switch", flow);
  const auto worker = f.rt.exec("switch").value();
  auto job = f.rt.post("switch", "r", "in", {}).value().job;
  ASSERT_TRUE(job->wait(10s));
  EXPECT_EQ(calls.load(), 1);  // never retried
  EXPECT_EQ(job->status(), td::JobStatus::failed);
  const td::Error error = job->error().value();
  EXPECT_EQ(error.kind, td::ErrorKind::kill_switch);
  EXPECT_EQ(error.routine, "r");
  EXPECT_FALSE(error.retryable());
  EXPECT_EQ(error.describe(), "kill switch in routine 'r': the disk is gone");
  EXPECT_EQ(f.rt.worker_state(worker)->status(), td::WorkerStatus::failed);
  auto refused = f.rt.post("switch", "r", "in", {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, td::ErrorKind::stopped);
}

TEST(ErrorStrategy, ARoutinesFailureReachesItsJobAsAnErrorNamingTheRoutine) {
  FlakyFlow flow(std::nullopt);
  auto job = flow.post(1);
  ASSERT_TRUE(job->wait(10s));
  const td::Error error = job->error().value();
  EXPECT_EQ(error.kind, td::ErrorKind::handler);
  EXPECT_EQ(error.routine, "flaky");
  EXPECT_EQ(error.message, "flaky failure");
  EXPECT_EQ(error.attempts, 1);
  EXPECT_TRUE(error.retryable());
}
