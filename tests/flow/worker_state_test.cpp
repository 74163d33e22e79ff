// FlowWorkerState: shared state, counters, history, save and restore.
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

TEST(FlowWorkerState, StartsPendingAndUpdatesAllOrNothing) {
  tendril::FlowWorkerState state("f", "f#1", 3);
  EXPECT_EQ(state.status(), tendril::WorkerStatus::pending);
  EXPECT_EQ(state.worker_id(), "f#1");
  EXPECT_EQ(state.flow_id(), "f");
  EXPECT_FALSE(state.get_routine_state("r"));
  state.update_routine_state("r", [](tendril::Json& s) { s["n"] = 1; });
  EXPECT_THROW(state.update_routine_state("r",
                                          [](tendril::Json& s) {
                                            s["n"] = 2;
                                            throw std::runtime_error("half way");
                                          }),
               std::runtime_error);
  EXPECT_EQ(state.get_routine_state("r").value(), (tendril::Json{{"n", 1}}));  // untouched
  EXPECT_THROW(state.update_routine_state("new", [](tendril::Json&) { throw 1; }), int);
  EXPECT_FALSE(state.get_routine_state("new"));  // not left behind as {}
  auto loaded = state.load(tendril::Json{{"history", {{{"routine", 1}}}}});
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind, tendril::ErrorKind::invalid);
  EXPECT_NE(loaded.error().message.find("history[0] needs string 'routine' and 'action'"),
            std::string::npos)
      << loaded.error().message;
  auto wrong_type = state.load(tendril::Json{{"jobs_processed", "many"}});
  ASSERT_FALSE(wrong_type);
  EXPECT_EQ(wrong_type.error().message,
            "WorkerState::load: 'jobs_processed' must be number, not string");
  EXPECT_EQ(state.get_routine_state("r").value(), (tendril::Json{{"n", 1}}));  // nothing changed
}

TEST(FlowWorkerStateStress, TwentyThreadsPostingTenThousandJobsCountExactly) {
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

TEST(FlowWorkerState, AFullHistoryKeepsTheNewestRecordsOldestFirst) {
  // The history is a ring overwritten in place: after it wraps, it still reads oldest first,
  // each completion with its job id and duration, and survives a save and restore in order.
  td::FlowRegistry registry;
  td::Runtime rt({.thread_pool_size = 1, .registry = &registry, .history_limit = 5});
  td::Flow flow("ring");
  auto r = routine({"in"}, {}, [](auto&, auto&, auto&) {});
  r->set_activation_policy(td::ActivationPolicy::batch_size(1));
  flow.add_routine(std::move(r), "r");
  registry.register_by_name("ring", flow);
  auto id = rt.exec("ring").value();
  for (int i = 0; i < 12; ++i) {  // one at a time, so that the order is the posts'
    auto posted = rt.post("ring", "r", "in", {}, {.job_id = "j" + std::to_string(i)});
    ASSERT_TRUE(posted);
    ASSERT_TRUE(posted->job->wait(10s));
  }
  auto* state = rt.worker_state(id);
  auto job_ids = [](const std::vector<td::ExecutionRecord>& history) {
    std::vector<std::string> ids;
    for (const auto& record : history) {
      EXPECT_EQ(record.action, "completed");
      EXPECT_TRUE(record.details["duration_us"].is_number_integer()) << record.details.dump();
      ids.push_back(record.details["job_id"].get<std::string>());
    }
    return ids;
  };
  const std::vector<std::string> newest{"j7", "j8", "j9", "j10", "j11"};
  EXPECT_EQ(job_ids(state->execution_history()), newest);
  EXPECT_EQ(state->history_dropped(), 7u);
  const Json saved = state->to_json();
  ASSERT_EQ(saved["history"].size(), 5u);
  EXPECT_EQ(saved["history"][0]["details"]["job_id"], "j7");
  td::FlowWorkerState restored("ring", "elsewhere", 3);
  ASSERT_TRUE(restored.load(saved));
  EXPECT_EQ(job_ids(restored.execution_history()),
            (std::vector<std::string>{"j9", "j10", "j11"}));  // the newest that fit
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
