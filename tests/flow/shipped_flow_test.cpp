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

// The shape of the shipped flow with slots of 5 items, so that they fill at once: a thread whose
// emit waits on a full slot must never start work that can only wait on that slot in turn (it
// once waited out the 30 s patience, and RETRY then re-ran counts that had succeeded).
TEST(ShippedFlow, FullSlotsUnderAFlowRetryHandlerNeverStallNorDoubleCount) {
  td::FlowRegistry registry;
  td::Runtime rt({.thread_pool_size = 2, .registry = &registry});
  auto make = [](const char* event, std::size_t slot_size) {
    auto r = std::make_unique<td::Routine>();
    r->add_slot("in", slot_size);
    if (*event) r->add_event(event);
    return r;
  };
  td::Flow flow("tight");
  auto intake = make("out", 5);
  td::Routine* intake_self = intake.get();
  intake->set_logic([intake_self](const td::SlotData& in, const Json&, td::FlowWorkerState&) {
    for (const auto& item : in["in"]) intake_self->emit("out", item);
  });
  auto count = make("count", 5);
  td::Routine* count_self = count.get();
  count->set_logic([count_self](const td::SlotData& in, const Json&, td::FlowWorkerState& state) {
    for (std::size_t i = 0; i < in["in"].size(); ++i) {
      const Json now =
          state.update_routine_state("count", [](Json& s) { s["n"] = s.value("n", 0) + 1; });
      count_self->emit("count", {{"n", now["n"]}});
    }
  });
  count->set_activation_policy(td::ActivationPolicy::batch_size(1));
  auto ticker = make("", 5);
  ticker->set_logic([](const td::SlotData&, const Json&, td::FlowWorkerState&) {});
  ticker->set_activation_policy(td::ActivationPolicy::time_interval(20ms));
  flow.add_routine(std::move(intake), "intake");
  flow.add_routine(std::move(count), "count");
  flow.add_routine(std::move(ticker), "ticker");
  flow.connect("intake", "out", "count", "in");
  flow.connect("count", "count", "ticker", "in");
  flow.set_error_handler(
      {.strategy = td::ErrorStrategy::RETRY, .max_retries = 2, .retry_delay = 100ms});
  registry.register_by_name("tight", flow);
  auto worker = rt.exec("tight");
  ASSERT_TRUE(worker) << worker.error().message;
  const auto started = std::chrono::steady_clock::now();
  constexpr int kJobs = 300;
  for (int i = 0; i < kJobs; ++i) {
    while (!rt.post("tight", "intake", "in", {{"i", i}}))
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_TRUE(rt.wait_until_all_jobs_finished(120s));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  const auto* state = rt.worker_state(*worker);
  EXPECT_EQ(state->get_routine_state("count").value()["n"], kJobs) << "each job counted once";
  EXPECT_EQ(state->jobs_failed(), 0u);
  // 300 items through a slot the ticker drains every 20 ms, 5 at a time: about 1.2 s.
  EXPECT_LT(elapsed, 20s) << "an emit waited out its patience";
  rt.shutdown();
}
