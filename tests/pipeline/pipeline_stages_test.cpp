// Pools, retries, error policies, order, fork/merge and worker state (issue points 3, 5-9).
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <ranges>
#include <string>
#include <tendril/pipeline/detail/latency.hpp>
#include <tendril/tendril.hpp>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"

namespace td = tendril;
using namespace std::chrono_literals;

namespace {

std::vector<int> iota_vector(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i;
  return v;
}

template <class P>
auto collect(P& pipe) {
  std::vector<typename P::value_type> out;
  for (auto&& v : pipe.iter()) out.push_back(v);
  return out;
}

}  // namespace

TEST(StageOptions, BadOptionsAreErrorsNamingTheOption) {
  auto fn = [](int x, td::WorkerState&) { return x; };
  EXPECT_THROW(td::work_pool({.buffer = 0}, fn), std::invalid_argument);
  EXPECT_THROW(td::work_pool({.num_workers = 0}, fn), std::invalid_argument);
  try {
    td::work_pool({.retries = 0}, fn);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("retries"), std::string::npos);
  }
}

TEST(WorkPool, ManyWorkersProcessEveryItemOnce) {
  auto data = iota_vector(1000);
  auto pipe = td::Pipeline(data) >> td::work_pool({.buffer = 4, .num_workers = 4},
                                                  [](int x, td::WorkerState&) { return x; });
  auto out = collect(pipe);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, data);
}

TEST(MixPool, WithoutMergeEachItemGoesToExactlyOneHandler) {
  auto data = iota_vector(300);
  auto pipe = td::Pipeline(data) >> td::mix_pool(
                                        {.buffer = 2},
                                        [](int x, td::WorkerState&) {
                                          return std::pair{x, 'a'};
                                        },
                                        [](int x, td::WorkerState&) {
                                          return std::pair{x, 'b'};
                                        },
                                        [](int x, td::WorkerState&) {
                                          return std::pair{x, 'c'};
                                        });
  auto out = collect(pipe);
  ASSERT_EQ(out.size(), 300u);
  std::vector<int> items;
  for (auto& [x, who] : out) items.push_back(x);
  std::sort(items.begin(), items.end());
  EXPECT_EQ(items, data);
}

TEST(Retries, CountTotalAttemptsAndALaterSuccessIsNotAFailure) {
  // Each item fails on its first two attempts, thrown once and returned once.
  auto flaky = td::work_pool({.retries = 3}, [](int x, td::WorkerState& state) -> td::Result<int> {
    int& attempts = state.get_or_create("attempts:" + std::to_string(x), [] { return 0; });
    ++attempts;
    if (attempts == 1) throw std::runtime_error("first attempt fails");
    if (attempts == 2) return td::Err("second attempt fails");
    return x;
  });
  auto result = (td::Pipeline(iota_vector(10)) >> flaky).run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->processed, 10u);
  EXPECT_EQ(result->failed, 0u);
  EXPECT_EQ(result->stages[0].retried, 20u);
}

TEST(Metrics, HandlerLatencyPercentilesComeFromEveryLongCall) {
  tendril::testing::Watchdog watchdog(60s, "latency");
  // Two items in a hundred take 5 ms, the rest 200 us: the median is a fast one, p99 a slow one.
  auto uneven = td::work_pool({.num_workers = 2}, [](int x) {
    std::this_thread::sleep_for(x % 50 == 0 ? 5ms : 200us);
    return x;
  });
  auto result = (td::Pipeline(iota_vector(100)) >> uneven).run();
  ASSERT_TRUE(result);
  const auto& stage = result->stages[0];
  EXPECT_EQ(stage.latency_samples, 100u) << "calls of 2 us or more are all timed";
  EXPECT_GE(stage.latency_p50, 175us);
  EXPECT_LT(stage.latency_p50, 4ms) << "the median is one of the 98 fast items";
  EXPECT_GE(stage.latency_p99, 4375us) << "rank 99 of 100 is one of the two slow items";
  EXPECT_GE(stage.latency_max, 5ms) << "the maximum is exact";
  EXPECT_LE(stage.latency_p99, stage.latency_max);
  const std::string table = result->table();
  EXPECT_NE(table.find("p99"), std::string::npos) << table;
  EXPECT_NE(table.find(" ms"), std::string::npos) << "the slow calls shown in ms: " << table;
}

TEST(Metrics, ShortCallsAreSampledOneIn256) {
  auto trivial = td::work_pool([](int x) { return x + 1; });
  auto result = (td::Pipeline(iota_vector(64000)) >> trivial).run();
  ASSERT_TRUE(result);
  const auto& stage = result->stages[0];
  EXPECT_GE(stage.latency_samples, 250u) << "at least one in 256";
  EXPECT_LE(stage.latency_samples, 1000u) << "about one in 256 (a slow call times the next too)";
  EXPECT_LE(stage.latency_p50, stage.latency_max);
}

TEST(Metrics, TheLatencyHistogramIsWithinAnEighthOfTheTruth) {
  td::detail::LatencyHistogram histogram;
  for (int ns = 1; ns <= 100000; ++ns) histogram.record(std::chrono::nanoseconds(ns));
  td::StageMetrics m;
  histogram.fill(m);
  EXPECT_EQ(m.latency_samples, 100000u);
  EXPECT_EQ(m.latency_max, 100000ns);
  EXPECT_NEAR(double(m.latency_p50.count()), 50000.0, 50000.0 / 8);
  EXPECT_NEAR(double(m.latency_p99.count()), 99000.0, 99000.0 / 8);
  td::detail::LatencyHistogram empty;
  td::StageMetrics none;
  empty.fill(none);
  EXPECT_EQ(none.latency_samples, 0u);
  EXPECT_EQ(none.latency_p99, 0ns);
}

TEST(Retries, AnItemFailingEveryAttemptIsDroppedAndCounted) {
  int calls = 0;
  auto always = td::work_pool({.retries = 4}, [&calls](int x, td::WorkerState&) -> int {
    ++calls;
    if (x == 3) throw std::runtime_error("never works");
    return x;
  });
  auto pipe = td::Pipeline(iota_vector(6)) >> always;
  auto result = pipe.run();
  ASSERT_TRUE(result) << "drop-and-count keeps the run a success";
  EXPECT_EQ(result->processed, 5u);
  EXPECT_EQ(result->failed, 1u);
  EXPECT_EQ(result->stages[0].retried, 3u);
  EXPECT_EQ(calls, 5 + 4);
}

TEST(ErrorPolicy, DropIsTheDefaultAndAPipelineWhoseItemsAllFailStillSucceeds) {
  auto fail = td::work_pool([](int, td::WorkerState&) -> int { throw std::runtime_error("no"); });
  auto result = (td::Pipeline(iota_vector(5)) >> fail).run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->processed, 0u);
  EXPECT_EQ(result->failed, 5u);
}

TEST(ErrorPolicy, FailFastEndsTheRunWithTheFirstError) {
  auto strict = td::work_pool({.on_error = td::OnError::fail_fast, .name = "strict"},
                              [](int x, td::WorkerState&) -> td::Result<int> {
                                if (x == 7) return td::Err("seven is not allowed");
                                return x;
                              });
  auto result = (td::Pipeline(std::views::iota(0, 1'000'000)) >> strict).run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, td::ErrorKind::handler);
  EXPECT_EQ(result.error().stage, "strict");
  EXPECT_EQ(result.error().describe(), "stage 'strict' failed: seven is not allowed");
}

TEST(ErrorPolicy, PassSendsErrorsDownstreamAsValues) {
  auto parse = td::work_pool({.on_error = td::OnError::pass, .name = "parse"},
                             [](std::string s, td::WorkerState&) -> td::Result<int> {
                               if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0])))
                                 return td::Err("not a number: '" + s + "'");
                               return std::stoi(s);
                             });
  auto twice = td::work_pool([](int x, td::WorkerState&) { return 2 * x; });  // skips errors
  // A stage whose handler takes Result<In> sees errors and may recover.
  auto recover = td::work_pool([](td::Result<int> r, td::WorkerState&) { return r ? *r : -1; });
  std::vector<std::string> words{"1", "x", "3"};

  auto through = td::Pipeline(words) >> parse >> twice;
  std::vector<std::string> seen;
  for (auto&& r : through.iter_results())
    seen.push_back(r ? std::to_string(*r) : "error: " + r.error().message);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"2", "6", "error: not a number: 'x'"}));

  auto recovered = td::Pipeline(words) >> parse >> twice >> recover;
  auto values = collect(recovered);
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<int>{-1, 2, 6}));
  auto metrics = recovered.last_metrics();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->stages[0].failed, 1u);
  EXPECT_EQ(metrics->stages[1].failed, 0u) << "a passed-through error is not the next stage's";
}

TEST(ErrorPolicy, DeadLetterReceivesEachFailedItemWithItsError) {
  std::mutex mutex;
  std::vector<std::pair<int, std::string>> dead;
  auto stage = td::work_pool({.retries = 2,
                              .num_workers = 3,
                              .dead_letter =
                                  [&](const int& item, const td::Error& error) {
                                    std::lock_guard lock(mutex);
                                    dead.emplace_back(item, error.describe());
                                  },
                              .name = "odd"},
                             [](int x, td::WorkerState&) -> int {
                               if (x % 2) throw std::runtime_error("odd " + std::to_string(x));
                               return x;
                             });
  auto result = (td::Pipeline(iota_vector(6)) >> stage).run();
  ASSERT_TRUE(result);
  std::sort(dead.begin(), dead.end());
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_EQ(dead[0], std::pair(1, std::string("stage 'odd' failed after 2 attempts: odd 1")));
  EXPECT_EQ(dead[2].first, 5);
}

TEST(Order, OneWorkerKeepsFifoOrder) {
  auto data = iota_vector(2000);
  auto pipe = td::Pipeline(data) >>
              td::work_pool({.buffer = 3}, [](int x, td::WorkerState&) { return x; }) >>
              td::work_pool([](int x, td::WorkerState&) { return x; });
  EXPECT_EQ(collect(pipe), data);
}

TEST(Order, OrderedKeepsInputOrderAcrossWorkersEvenWithDrops) {
  tendril::testing::Watchdog watchdog(30s, "ordered stage");
  std::mt19937 rng(20261122);  // seeded: the same jitter every run
  std::vector<int> delays_us(400);
  for (auto& d : delays_us) d = std::uniform_int_distribution(0, 300)(rng);
  auto jitter =
      td::work_pool({.buffer = 4, .num_workers = 4, .ordered = true},
                    [&](int x, td::WorkerState&) -> td::Result<int> {
                      std::this_thread::sleep_for(std::chrono::microseconds(delays_us[x]));
                      if (x % 10 == 9) return td::Err("dropped");
                      return x;
                    });
  auto pipe = td::Pipeline(iota_vector(400)) >> jitter;
  std::vector<int> expected;
  for (int i = 0; i < 400; ++i)
    if (i % 10 != 9) expected.push_back(i);
  EXPECT_EQ(collect(pipe), expected);
}

TEST(ForkMerge, TheSeedExampleGivesNineAndFourteen) {
  // [1,2] through +1, fork(x2, x3) merged by sum, then -1 gives [9,14].
  auto add = td::work_pool([](int x, td::WorkerState&) { return x + 1; });
  auto fork = td::mix_pool(
      {.fork_merge = [](std::vector<int> all) { return all[0] + all[1]; }},
      [](int x, td::WorkerState&) { return x * 2; }, [](int x, td::WorkerState&) { return x * 3; });
  auto sub = td::work_pool([](int x, td::WorkerState&) { return x - 1; });
  auto pipe = td::Pipeline(std::vector{1, 2}) >> add >> fork >> sub;
  auto out = collect(pipe);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<int>{9, 14}));
}

TEST(ForkMerge, AWorkPoolWithMergeRunsTheHandlerOncePerWorkerPerItem) {
  auto fork =
      td::work_pool({.num_workers = 3,
                     .fork_merge = [](std::vector<int> all) { return all[0] + all[1] + all[2]; }},
                    [](int x, td::WorkerState&) { return x; });
  auto pipe = td::Pipeline(std::vector{1, 5}) >> fork;
  auto out = collect(pipe);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<int>{3, 15}));
}

TEST(ForkMerge, BranchesAreMatchedByItemAndOneFailedBranchFailsThatItemOnly) {
  tendril::testing::Watchdog watchdog(30s, "fork by item");
  std::mt19937 rng(7);
  std::vector<int> delays_us(200);
  for (auto& d : delays_us) d = std::uniform_int_distribution(0, 200)(rng);
  auto fork = td::mix_pool(
      {.buffer = 3,
       .fork_merge =
           [](std::vector<std::pair<int, char>> parts) {
             if (parts[0].first != parts[1].first) throw std::logic_error("mismatched cohort");
             return std::pair{parts[0].first, 'm'};
           }},
      [&](int x, td::WorkerState&) -> td::Result<std::pair<int, char>> {
        std::this_thread::sleep_for(std::chrono::microseconds(delays_us[x]));
        if (x == 2) return td::Err("branch a cannot take 2");
        return std::pair{x, 'a'};
      },
      [&](int x, td::WorkerState&) {
        std::this_thread::sleep_for(std::chrono::microseconds(delays_us[199 - x]));
        return std::pair{x, 'b'};
      });
  auto pipe = td::Pipeline(iota_vector(200)) >> fork;
  std::vector<int> out;
  for (auto [x, tag] : pipe.iter()) {
    EXPECT_EQ(tag, 'm');
    out.push_back(x);
  }
  std::sort(out.begin(), out.end());
  auto expected = iota_vector(200);
  expected.erase(expected.begin() + 2);
  EXPECT_EQ(out, expected);
  auto metrics = pipe.last_metrics();
  EXPECT_EQ(metrics->failed, 1u);
  EXPECT_EQ(metrics->processed, 199u);
}

TEST(ForkMerge, AThrowingMergeFailsThatItemOnly) {
  auto fork = td::work_pool({.num_workers = 2,
                             .fork_merge =
                                 [](std::vector<int> all) {
                                   if (all[0] == 3) throw std::runtime_error("cannot merge 3");
                                   return all[0];
                                 }},
                            [](int x, td::WorkerState&) { return x; });
  auto result = (td::Pipeline(iota_vector(6)) >> fork).run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->processed, 5u);
  EXPECT_EQ(result->failed, 1u);
}

TEST(WorkerStateInPools, ThreeWorkersOverNineItemsCountOneOneOneTwoTwoTwoThreeThreeThree) {
  tendril::testing::Watchdog watchdog(30s, "worker state rounds");
  // The barrier makes each round hold exactly one item per worker, so every worker sees three.
  std::barrier round(3);
  auto count = td::work_pool({.buffer = 9, .num_workers = 3}, [&](int, td::WorkerState& state) {
    int& n = state.get_or_create("count", [] { return 0; });
    ++n;
    round.arrive_and_wait();
    return n;
  });
  auto pipe = td::Pipeline(iota_vector(9)) >> count;
  auto out = collect(pipe);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<int>{1, 1, 1, 2, 2, 2, 3, 3, 3}));
}

TEST(WorkerStateInPools, EachWorkerKnowsItsIndexAndStage) {
  std::mutex mutex;
  std::vector<std::string> seen;
  auto who = td::work_pool(
      {.buffer = 8, .num_workers = 2, .name = "who"}, [&](int x, td::WorkerState& state) {
        std::lock_guard lock(mutex);
        seen.push_back(state.stage_name() + "#" + std::to_string(state.worker_index()));
        return x;
      });
  ASSERT_TRUE((td::Pipeline(iota_vector(50)) >> who).run());
  for (auto& s : seen) EXPECT_TRUE(s == "who#0" || s == "who#1") << s;
  EXPECT_EQ(seen.size(), 50u);
}

TEST(WorkPool, BlockingHandlersStillRunNumWorkersAtOnce) {
  tendril::testing::Watchdog watchdog(30s, "blocking concurrency");
  // Each handler blocks until four are inside at once (or gives up after 5 s); a scheduler that
  // kept cheap-looking work on one thread would never get there.
  std::atomic<int> inside{0}, peak{0};
  auto blocking = td::work_pool({.buffer = 8, .num_workers = 4}, [&](int x, td::WorkerState&) {
    const int now = ++inside;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (peak.load() < 4 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(100us);
    --inside;
    return x;
  });
  auto result = (td::Pipeline(iota_vector(16)) >> blocking).run();
  ASSERT_TRUE(result);
  EXPECT_EQ(peak, 4);
  EXPECT_EQ(result->processed, 16u);
}

TEST(WorkPool, AOneWorkerStageCarriedIntoByTwoThreadsRunsOneItemAtATime) {
  tendril::testing::Watchdog watchdog(60s, "one-worker stage fed by two threads");
  // The first 1,000 items are carried by one thread, so the one-worker stage's seat is biased
  // towards it; then items 1000 and 1001 meet in the two-worker stage, which takes two threads,
  // and from there both threads carry items into the one-worker stage, whose seat must change
  // hands (a revocation) without ever being held twice.
  constexpr int kItems = 3000;
  std::atomic<int> met{0};
  auto meet = td::work_pool({.buffer = 2, .num_workers = 2}, [&](int x, td::WorkerState&) {
    if (x == 1000 || x == 1001) {
      ++met;
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (met.load() < 2 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50us);
    } else if (x > 1001) {
      const auto until = std::chrono::steady_clock::now() + 2us;  // a little work
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    return x;
  });
  std::atomic<bool> inside{false}, overlap{false};
  long plain_count = 0;  // guarded by the stage's one seat alone
  std::mutex threads_mutex;
  std::vector<std::thread::id> threads;
  auto single = td::work_pool([&](int x, td::WorkerState& state) {
    if (inside.exchange(true)) overlap = true;
    ++plain_count;
    ++state.get_or_create("count", [] { return 0L; });
    if (x % 97 == 0) {
      std::lock_guard lock(threads_mutex);
      if (std::find(threads.begin(), threads.end(), std::this_thread::get_id()) == threads.end())
        threads.push_back(std::this_thread::get_id());
    }
    inside.store(false);
    return x;
  });
  long last_count = 0;
  auto count = td::work_pool([&](int x, td::WorkerState&) {
    ++last_count;
    return x;
  });
  auto result = (td::Pipeline(iota_vector(kItems)) >> meet >> single >> count).run();
  ASSERT_TRUE(result);
  EXPECT_EQ(met.load(), 2) << "items 1000 and 1001 met: two threads ran the two-worker stage";
  EXPECT_FALSE(overlap) << "the one-worker stage ran two items at once";
  EXPECT_EQ(plain_count, kItems);
  EXPECT_EQ(last_count, kItems);
  EXPECT_EQ(result->processed, static_cast<std::uint64_t>(kItems));
  std::printf("threads seen in the one-worker stage: %zu\n", threads.size());
}
