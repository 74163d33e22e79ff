// A flow's jobs from a consumer group: two runtimes share one flow's jobs, each acknowledged
// when its job has finished, failures coming back as the item's error.
#include <tendril/flow.hpp>
#include <tendril/stream/flow_jobs.hpp>
#include <tendril/stream/remote_stage.hpp>
#include <tendril/tendril.hpp>

#include <gtest/gtest.h>

#include <ranges>
#include <set>
#include <thread>

#include "support/redis_server.hpp"
#include "support/watchdog.hpp"

namespace ts = tendril::stream;
using namespace std::chrono_literals;
using tendril::Json;
using tendril::testing::RedisServer;

namespace {

// A runtime running the counting flow, and its worker id.
struct CountingRuntime {
  CountingRuntime() {
    tendril::register_builtin_routines();
    auto flow = tendril::Flow::from_json(Json::parse(
        R"({"flow_id": "count", "routines": {"counter": {"type": "tendril.Counter"}}})"));
    EXPECT_TRUE(flow);
    worker = runtime.exec(*flow).value();
  }
  long long counted() const {
    auto state = runtime.worker_state(worker)->get_routine_state("counter");
    return state && state->contains("count") ? (*state)["count"].get<long long>() : 0;
  }
  tendril::Runtime runtime{{.thread_pool_size = 2}};
  std::string worker;
};

}  // namespace

TEST(FlowJobs, TwoRuntimesShareAFlowsJobsAndEachIsAckedWhenItsJobFinished) {
  tendril::testing::Watchdog watchdog(60s, "flow jobs");
  RedisServer server;
  CountingRuntime first, second;
  auto serve = [&](CountingRuntime& r, const char* name) {
    return std::jthread([&r, name, &server](std::stop_token stop) {
      auto jobs = ts::flow_jobs_worker(r.runtime, {.endpoint = server.endpoint(),
                                                   .stage = "count",
                                                   .flow = "count",
                                                   .routine = "counter",
                                                   .slot = "in",
                                                   .concurrent_jobs = 2,
                                                   .consumer = name});
      auto ran = jobs.run(stop);
      EXPECT_TRUE(ran) << ran.error().message;
    });
  };
  auto a = serve(first, "a");
  auto b = serve(second, "b");
  auto send = ts::remote_stage<Json, Json>({.endpoint = server.endpoint(),
                                            .stage = "count",
                                            .max_in_flight = 4,
                                            .on_error = tendril::OnError::pass});
  std::vector<Json> jobs;
  for (int i = 0; i < 300; ++i) jobs.push_back(Json{{"n", i}});
  jobs.push_back(Json(5));  // not an object: the job cannot be posted
  int completed = 0, failed = 0;
  std::set<std::string> job_ids;
  for (auto& r : (tendril::Pipeline(jobs) >> send).iter_results()) {
    if (r) {
      ++completed;
      EXPECT_EQ((*r)["status"], "completed");
      job_ids.insert((*r)["job_id"].get<std::string>());
    } else {
      ++failed;
      EXPECT_NE(r.error().message.find("a job's data must be a JSON object, got number"),
                std::string::npos)
          << r.error().message;
    }
  }
  EXPECT_EQ(completed, 300);
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(job_ids.size(), 300u) << "each item one job, named by its key on either runtime";
  EXPECT_EQ(first.counted() + second.counted(), 300) << "every job ran, once";
  EXPECT_GT(first.counted(), 0) << "the first runtime took a share";
  EXPECT_GT(second.counted(), 0) << "the second runtime took a share";
}
