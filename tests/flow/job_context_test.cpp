// JobContext: a job's context in every routine it reaches.
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
