#include <gtest/gtest.h>

#include <memory>
#include <tendril/core/worker_state.hpp>
#include <tendril/flow/worker_state.hpp>

using tendril::WorkerState;

TEST(WorkerState, StoresTypedValuesAndReportsItsWorker) {
  WorkerState state("parse", 2);
  EXPECT_EQ(state.get<int>("count"), nullptr);
  state.set("count", 41);
  ++*state.get<int>("count");
  EXPECT_EQ(*state.get<int>("count"), 42);
  EXPECT_TRUE(state.contains("count"));
  EXPECT_EQ(state.worker_index(), 2u);
  EXPECT_EQ(state.stage_name(), "parse");
  EXPECT_TRUE(state.erase("count"));
  EXPECT_FALSE(state.contains("count"));
}

TEST(WorkerState, GetOrCreateRunsTheFactoryOnce) {
  WorkerState state("s", 0);
  int made = 0;
  auto make = [&] {
    ++made;
    return std::make_unique<int>(7);  // move-only values are fine
  };
  auto& first = state.get_or_create("conn", make);
  auto& second = state.get_or_create("conn", make);
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(*first, 7);
  EXPECT_EQ(made, 1);
}

TEST(WorkerState, ReadingAValueAsAnotherTypeNamesKeyAndTypes) {
  WorkerState state("s", 0);
  state.set("n", 1);
  try {
    state.get<std::string>("n");
    FAIL() << "expected a type error";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("'n' holds int"), std::string::npos) << e.what();
  }
}

TEST(WorkerState, AFlowWorkersStateStartsPendingAndUpdatesAllOrNothing) {
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
  try {
    state.load(tendril::Json{{"history", {{{"routine", 1}}}}});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("history[0] needs string 'routine' and 'action'"),
              std::string::npos)
        << e.what();
  }
  // A pipeline worker's id is its stage and index.
  EXPECT_EQ(WorkerState("parse", 2).worker_id(), "parse#2");
}
