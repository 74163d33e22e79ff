// Sources, composition, nesting and re-running (issue points 1, 2, 12, 13).
#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <ranges>
#include <sstream>
#include <string>
#include <tendril/tendril.hpp>
#include <vector>

namespace td = tendril;

namespace {

template <class It>
auto sorted(It&& iteration) {
  std::vector<std::remove_cvref_t<decltype(*iteration.begin())>> out;
  for (auto&& v : iteration) out.push_back(v);
  std::sort(out.begin(), out.end());
  return out;
}

auto plus_one() {
  return td::work_pool([](int x, td::WorkerState&) { return x + 1; });
}

}  // namespace

TEST(PipelineSources, AContainerFeedsEveryItem) {
  std::vector<int> data{1, 2, 3};
  auto pipe = td::Pipeline(data) >> plus_one();
  EXPECT_EQ(sorted(pipe.iter()), (std::vector<int>{2, 3, 4}));
}

TEST(PipelineSources, AnRvalueContainerIsMovedIn) {
  auto pipe = td::Pipeline(std::list<int>{5, 6}) >> plus_one();
  EXPECT_EQ(sorted(pipe.iter()), (std::vector<int>{6, 7}));
}

TEST(PipelineSources, AnIterationOutlivesTheTemporaryPipelineThatOwnedItsContainer) {
  // The pipeline (and the vector moved into it) is a temporary of the for statement's range
  // expression, gone before the loop body runs: the run must keep its source alive. (Before the
  // fix this read freed memory: garbage values, and a heap-use-after-free under ASan.)
  std::vector<int> got;
  for (int v : (td::Pipeline(std::vector<int>{1, 2048, 1}) >> plus_one()).iter()) got.push_back(v);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{2, 2, 2049}));
}

TEST(PipelineSources, AViewFeedsEveryItem) {
  auto pipe =
      td::Pipeline(std::views::iota(0, 5) | std::views::transform([](int x) { return x * 10; }));
  auto result = pipe.run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->produced, 5u);
  EXPECT_EQ(result->processed, 5u);  // no stages: what the source yields leaves the pipeline
}

TEST(PipelineSources, AnInputOnlyRangeFeedsEveryItem) {
  std::istringstream text("4 5 6");
  auto pipe = td::Pipeline(std::views::istream<int>(text)) >> plus_one();
  EXPECT_EQ(sorted(pipe.iter()), (std::vector<int>{5, 6, 7}));
}

TEST(PipelineSources, AGeneratorCallableEndsAtNullopt) {
  int next = 0;
  auto pipe = td::Pipeline([&]() -> std::optional<int> {
                if (next == 4) return std::nullopt;
                return next++;
              }) >>
              plus_one();
  EXPECT_EQ(sorted(pipe.iter()), (std::vector<int>{1, 2, 3, 4}));
}

TEST(PipelineComposition, ShiftAndStageBuildTheSamePipeline) {
  auto to_text = td::work_pool([](int x, td::WorkerState&) { return std::to_string(x); });
  auto length = td::work_pool([](std::string s) { return s.size(); });  // state is optional
  std::vector<int> data{7, 42, 100};
  auto a = td::Pipeline(data) >> to_text >> length;
  auto b = td::Pipeline(data).stage(to_text).stage(length);
  static_assert(std::is_same_v<decltype(a), td::Pipeline<std::size_t>>);
  static_assert(std::is_same_v<decltype(b), td::Pipeline<std::size_t>>);
  EXPECT_EQ(sorted(a.iter()), (std::vector<std::size_t>{1, 2, 3}));
  EXPECT_EQ(sorted(b.iter()), (std::vector<std::size_t>{1, 2, 3}));
}

TEST(PipelineNesting, APipelineIsTheSourceOfAnother) {
  // The seed: Pipeline(Pipeline(data) >> stage1 >> stage2) >> stage3.
  std::vector<int> data{1, 2, 3};
  auto inner = td::Pipeline(data) >> plus_one() >> plus_one();
  auto outer = td::Pipeline(inner) >> td::work_pool([](int x, td::WorkerState&) { return x * 10; });
  EXPECT_EQ(sorted(outer.iter()), (std::vector<int>{30, 40, 50}));
  auto metrics = outer.run();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->stages.size(), 3u);
}

TEST(PipelineNesting, ShiftingAPipelineAppendsItsStagesAndIgnoresItsSource) {
  // The seed: Pipeline(data) >> stage1 >> stage2 >> (Pipeline(iter([])) >> stage3).
  std::vector<int> data{1, 2};
  std::vector<int> ignored{1000};
  auto tail = td::Pipeline(ignored) >> td::work_pool([](int x, td::WorkerState&) { return -x; });
  auto pipe = td::Pipeline(data) >> plus_one() >> tail;
  EXPECT_EQ(sorted(pipe.iter()), (std::vector<int>{-3, -2}));
  EXPECT_EQ(pipe.stage_count(), 2u);
}

TEST(PipelineNesting, AppendingAPipelineOfAnotherItemTypeIsAnErrorNamingBoth) {
  std::vector<std::string> words{"a"};
  auto tail = td::Pipeline(words) >> td::work_pool([](std::string s) { return s.size(); });
  std::vector<int> data{1};
  try {
    (void)(td::Pipeline(data) >> tail);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("std::__cxx11::basic_string"), std::string::npos) << what;
    EXPECT_NE(what.find("yields int"), std::string::npos) << what;
  }
}

TEST(PipelineRerun, AContainerSourceRunsAgainWithTheSameResult) {
  std::vector<int> data{1, 2, 3};
  auto pipe = td::Pipeline(data) >> plus_one();
  auto first = pipe.run();
  auto second = pipe.run();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->processed, 3u);
  EXPECT_EQ(second->processed, 3u);
}

TEST(PipelineRerun, ASecondRunOfAConsumedSinglePassSourceIsAClearError) {
  int next = 0;
  auto pipe = td::Pipeline([&]() -> std::optional<int> {
                return next < 3 ? std::optional(next++) : std::nullopt;
              }) >>
              plus_one();
  auto first = pipe.run();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->processed, 3u);
  auto second = pipe.run();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, td::ErrorKind::usage);
  EXPECT_NE(second.error().message.find("single-pass"), std::string::npos);
  auto third = pipe.iter();  // iter() says the same, through result()
  EXPECT_TRUE(third.begin() == third.end());
  EXPECT_EQ(third.result().error().kind, td::ErrorKind::usage);
}
