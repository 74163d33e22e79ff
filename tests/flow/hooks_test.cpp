// Hooks: workers, jobs, routines, emits and enqueues, in order.
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
  hooks.on_routine_end = [&](std::string_view r, const td::JobContext&, const td::Error* e) {
    log("routine_end:" + std::string(r) + (e ? ":" + e->message : ""));
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
