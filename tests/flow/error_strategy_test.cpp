// Error strategies: STOP, CONTINUE, RETRY, SKIP, and whose handler wins.
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
