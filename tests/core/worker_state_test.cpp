#include <gtest/gtest.h>

#include <memory>
#include <tendril/core/worker_state.hpp>

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

TEST(WorkerState, APipelineWorkersIdIsItsStageAndIndex) {
  // A pipeline worker's id is its stage and index.
  EXPECT_EQ(WorkerState("parse", 2).worker_id(), "parse#2");
}
