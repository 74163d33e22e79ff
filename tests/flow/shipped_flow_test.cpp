// The flow file the project ships (examples/flows/counting.json), run as a user runs it: with its
// flow-level RETRY handler, 5,000 jobs through intake -> count -> ticker, and a log beside.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "support/flow_helpers.hpp"

using namespace flow_test;

TEST(ShippedFlow, CountingFlowWithItsRetryHandlerCountsEveryJobOnceAndPromptly) {
  td::register_builtin_routines();
  auto flow = td::Flow::load_file(std::string(TENDRIL_EXAMPLE_FLOWS) + "/counting.json");
  ASSERT_TRUE(flow) << flow.error().message;
  td::FlowRegistry registry;
  td::Runtime rt({.thread_pool_size = 2, .registry = &registry});
  auto worker = rt.exec(*flow);
  ASSERT_TRUE(worker) << worker.error().message;
  const auto started = std::chrono::steady_clock::now();
  constexpr int kJobs = 5'000;
  for (int i = 0; i < kJobs; ++i) {
    for (;;) {  // a full slot refuses a post: wait for room, as `tendril flow run` does
      auto posted = rt.post("counting", "intake", "in", {{"n", i}});
      if (posted) break;
      ASSERT_EQ(posted.error().kind, td::ErrorKind::queue_full) << posted.error().describe();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  ASSERT_TRUE(rt.wait_until_all_jobs_finished(60s));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  const auto* state = rt.worker_state(*worker);
  EXPECT_EQ(state->get_routine_state("count").value()["count"], kJobs) << "each job counted once";
  EXPECT_EQ(state->jobs_processed(), static_cast<std::uint64_t>(kJobs));
  EXPECT_EQ(state->jobs_failed(), 0u);
  for (const auto& record : state->execution_history())
    EXPECT_NE(record.action, "retried") << "nothing failed, so nothing was retried";
  // The ticker drains its slot every 200 ms; 5,000 jobs take about a second (120 s was seen
  // when retries re-ran work).
  EXPECT_LT(elapsed, 30s);
  rt.shutdown();
}
