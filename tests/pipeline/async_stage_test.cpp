// Coroutine stages (issue points 1-5): Task handlers on the event loop, bounded in flight, real
// sockets, retries of thrown exceptions, cancellation of suspended coroutines, per-worker state.
#include <tendril/task.hpp>

#include <gtest/gtest.h>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <latch>
#include <memory>
#include <ranges>
#include <string>
#include <thread>
#include <vector>

#include "support/mini_http.hpp"
#include "support/watchdog.hpp"

namespace td = tendril;
using namespace std::chrono_literals;

namespace {

// Counts coroutines inside a section and remembers the most at once.
struct InFlight {
  std::atomic<int> now{0}, peak{0};
  void enter() {
    const int n = ++now;
    for (int seen = peak.load(); n > seen && !peak.compare_exchange_weak(seen, n);) {
    }
  }
  void leave() { --now; }
};

}  // namespace

TEST(AsyncStage, NumWorkersBoundsTheItemsInFlight) {
  tendril::testing::Watchdog watchdog(30s, "bounded in flight");
  InFlight flight;
  auto wait =
      td::work_pool({.buffer = 4, .num_workers = 5}, [&](int x, td::WorkerState&) -> td::Task<int> {
        flight.enter();
        co_await td::sleep_for(2ms);
        flight.leave();
        co_return x;
      });
  auto result = (td::Pipeline(std::views::iota(0, 100)) >> wait).run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->processed, 100u);
  EXPECT_EQ(flight.peak, 5) << "five workers: five items waiting at once, never more";
  // Every attempt of a coroutine is timed, from its spawn to its result.
  const auto& stage = result->stages[0];
  EXPECT_EQ(stage.latency_samples, 100u);
  EXPECT_GE(stage.latency_p50, 1750us) << "a 2 ms timer, within the histogram's 12.5%";
  EXPECT_GE(stage.latency_max, 2ms);
  EXPECT_LE(stage.latency_p50, stage.latency_p99);
  EXPECT_LE(stage.latency_p99, stage.latency_max);
}

TEST(AsyncStage, MixesFreelyWithPlainStages) {
  auto parse = td::work_pool([](std::string s, td::WorkerState&) { return std::stoi(s); });
  auto slow_double =
      td::work_pool({.num_workers = 8}, [](int x, td::WorkerState&) -> td::Task<int> {
        co_await td::sleep_for(1ms);
        co_return 2 * x;
      });
  auto to_text = td::work_pool([](int x) { return std::to_string(x); });
  std::vector<std::string> input{"1", "2", "3", "4"};
  auto pipe = td::Pipeline(input) >> parse >> slow_double >> to_text;
  std::vector<std::string> out;
  for (auto& s : pipe.iter()) out.push_back(s);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<std::string>{"2", "4", "6", "8"}));
}

// Two coroutine stages back to back with small buffers: while the run's thread that carries the
// first stage's results waits for room downstream, another carries the second's on, so neither
// stage waits on the other for ever.
TEST(AsyncStage, CoroutineStagesBackToBackWithFullBuffersKeepFlowing) {
  tendril::testing::Watchdog watchdog(30s, "coroutine stages back to back");
  auto first =
      td::work_pool({.buffer = 2, .num_workers = 4}, [](int x, td::WorkerState&) -> td::Task<int> {
        co_await td::sleep_for(100us);
        co_return x * 2;
      });
  auto second = td::work_pool({.buffer = 1}, [](int x, td::WorkerState&) -> td::Task<int> {
    co_await td::sleep_for(200us);
    co_return x + 1;
  });
  auto result = (td::Pipeline(std::views::iota(0, 500)) >> first >> second).run();
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->processed, 500u);
  EXPECT_EQ(result->failed, 0u);
}

TEST(AsyncStage, AwaitsRealSocketsAgainstALoopbackHttpServer) {
  tendril::testing::Watchdog watchdog(30s, "http fetch");
  mini_http::Server server;
  auto fetch = td::work_pool({.num_workers = 4}, [&](int n, td::WorkerState&) -> td::Task<long> {
    mini_http::Client client(co_await asio::this_coro::executor);
    co_await client.connect(server.port());
    co_return std::stol(co_await client.get("/double/" + std::to_string(n)));
  });
  std::vector<long> out;
  auto pipe = td::Pipeline(std::views::iota(0, 50)) >> fetch;
  for (long v : pipe.iter()) out.push_back(v);
  std::sort(out.begin(), out.end());
  ASSERT_EQ(out.size(), 50u);
  EXPECT_EQ(out.front(), 0);
  EXPECT_EQ(out.back(), 98);
  EXPECT_EQ(server.requests(), 50);
}

TEST(AsyncStage, AnExceptionInACoroutineIsRetriedAndCountedAndNoLaterItemIsLost) {
  tendril::testing::Watchdog watchdog(30s, "coroutine retries");
  std::atomic<int> calls{0};
  auto flaky = td::work_pool(
      {.retries = 3, .num_workers = 4}, [&](int x, td::WorkerState& state) -> td::Task<int> {
        ++calls;
        co_await td::sleep_for(100us);
        int& tries = state.get_or_create("tries:" + std::to_string(x), [] { return 0; });
        if (++tries == 1 && x % 2 == 0) throw std::runtime_error("first try fails");
        if (x == 7) throw std::runtime_error("seven always fails");
        co_return x;
      });
  auto pipe = td::Pipeline(std::views::iota(0, 40)) >> flaky;
  auto result = pipe.run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->processed, 39u) << "every item but 7 comes through, including all after it";
  EXPECT_EQ(result->failed, 1u);
  // Even items retry once; 7 retries twice. (An item's retries run on the worker that began it.)
  EXPECT_EQ(result->stages[0].retried, 20u + 2u);
  EXPECT_EQ(calls, 40 + 22);
}

TEST(AsyncStage, AReturnedErrorIsRetriedLikeAThrownOne) {
  std::atomic<int> calls{0};
  auto stage =
      td::work_pool({.retries = 2}, [&](int, td::WorkerState&) -> td::Task<td::Result<int>> {
        ++calls;
        co_return td::Err("no");
      });
  auto result = (td::Pipeline(std::vector{1, 2}) >> stage).run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->failed, 2u);
  EXPECT_EQ(calls, 4);
}

TEST(AsyncStage, CancelReachesSuspendedCoroutinesAndTheRunEndsPromptly) {
  tendril::testing::Watchdog watchdog(20s, "cancel suspended coroutines");
  InFlight flight;
  std::latch all_waiting(10);
  auto forever = td::work_pool({.num_workers = 10}, [&](int x, td::WorkerState&) -> td::Task<int> {
    flight.enter();
    all_waiting.count_down();
    co_await td::sleep_for(1h);  // only a cancel ends this
    flight.leave();
    co_return x;
  });
  auto pipe = td::Pipeline(std::views::iota(0, 100)) >> forever;
  std::thread canceller([&] {
    all_waiting.wait();
    pipe.cancel("enough waiting");
  });
  const auto started = std::chrono::steady_clock::now();
  auto result = pipe.run();
  canceller.join();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, td::ErrorKind::cancelled);
  EXPECT_EQ(result.error().message, "enough waiting");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s)
      << "the hour-long timers were cancelled";
  EXPECT_EQ(pipe.last_metrics()->failed, 0u) << "abandoned items are not failures";
}

TEST(AsyncStage, LeavingIterEarlyCancelsPendingSocketsAndTimers) {
  tendril::testing::Watchdog watchdog(20s, "early exit with coroutines");
  mini_http::Server server;
  auto fetch = td::work_pool({.num_workers = 6}, [&](int n, td::WorkerState&) -> td::Task<int> {
    if (n >= 3) co_await td::sleep_for(1h);  // later items would wait for ever
    mini_http::Client client(co_await asio::this_coro::executor);
    co_await client.connect(server.port());
    co_return std::stoi(co_await client.get("/double/" + std::to_string(n)));
  });
  auto pipe = td::Pipeline(std::views::iota(0, 1000)) >> fetch;
  int taken = 0;
  for (int v : pipe.iter()) {
    EXPECT_EQ(v % 2, 0);
    if (++taken == 3) break;
  }
  EXPECT_EQ(taken, 3);
  ASSERT_TRUE(pipe.last_metrics());
}

TEST(AsyncStage, EachCoroutineWorkerKeepsItsOwnConnection) {
  tendril::testing::Watchdog watchdog(30s, "connection per worker");
  mini_http::Server server;
  std::atomic<int> opened{0};
  auto fetch = td::work_pool(
      {.buffer = 8, .num_workers = 3}, [&](int n, td::WorkerState& state) -> td::Task<int> {
        auto& client =
            state.get_or_create("client", [] { return std::unique_ptr<mini_http::Client>(); });
        if (!client) {
          client = std::make_unique<mini_http::Client>(co_await asio::this_coro::executor);
          co_await client->connect(server.port());
          ++opened;
        }
        co_return std::stoi(co_await client->get("/double/" + std::to_string(n)));
      });
  auto result = (td::Pipeline(std::views::iota(0, 300)) >> fetch).run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->processed, 300u);
  EXPECT_EQ(server.requests(), 300);
  EXPECT_LE(opened, 3) << "one connection per worker, reused for every later item";
  EXPECT_EQ(server.connections(), opened.load());
}

TEST(AsyncStage, OptionsItCannotHonourYetAreClearErrors) {
  auto fn = [](int x, td::WorkerState&) -> td::Task<int> { co_return x; };
  try {
    td::work_pool({.ordered = true}, fn);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("ordered is not supported for coroutine handlers"),
              std::string::npos);
  }
  EXPECT_THROW(
      td::work_pool({.num_workers = 2, .fork_merge = [](std::vector<int> v) { return v[0]; }}, fn),
      std::invalid_argument);
}

// sleep_for outside a pipeline, on a plain io_context: every sleep on one shared timer.
namespace {

using Clock = std::chrono::steady_clock;

// Runs `body` as a coroutine on `io`; `error` is what it threw, if anything.
template <class Body>
void spawn(asio::io_context& io, Body body, std::exception_ptr* error = nullptr) {
  asio::co_spawn(io, std::move(body), [error](std::exception_ptr e) {
    if (error) *error = e;
  });
}

std::size_t sleepers_on(asio::io_context& io) {
  return asio::use_service<td::detail::Sleepers>(io).size();
}

}  // namespace

TEST(SleepFor, ManySleepsWakeInDeadlineOrderNeverEarlyAndLeaveNothingBehind) {
  tendril::testing::Watchdog watchdog(20s, "sleeps in deadline order");
  asio::io_context io;
  std::vector<int> order;
  std::vector<Clock::duration> late;
  const auto start = Clock::now();
  // Pushed in an order that is not the deadlines' order: 30, 10, 50, 20, 40 ms...
  const std::vector<int> millis = {30, 10, 50, 20, 40, 5, 45, 15, 35, 25};
  for (int ms : millis)
    spawn(io, [&, ms]() -> asio::awaitable<void> {
      co_await td::sleep_for(std::chrono::milliseconds(ms));
      late.push_back(Clock::now() - start - std::chrono::milliseconds(ms));
      order.push_back(ms);
    });
  io.run();
  std::vector<int> sorted = millis;
  std::ranges::sort(sorted);
  EXPECT_EQ(order, sorted);
  for (Clock::duration d : late) EXPECT_GE(d, 0ns) << "no sleep ends before its time";
  EXPECT_EQ(sleepers_on(io), 0u);
}

TEST(SleepFor, ACancelledSleepEndsAtOnceWithOperationAbortedAndDoesNotHoldTheLoop) {
  tendril::testing::Watchdog watchdog(20s, "cancelled sleep");
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  std::size_t winner = 99;
  bool aborted = false;
  spawn(io, [&]() -> asio::awaitable<void> {
    auto long_sleep = [&]() -> asio::awaitable<void> {
      try {
        co_await td::sleep_for(1h);
      } catch (const asio::system_error& e) {
        aborted = e.code() == asio::error::operation_aborted;
        throw;
      }
    };
    auto result = co_await (long_sleep() || td::sleep_for(5ms));
    winner = result.index();
  });
  const auto start = Clock::now();
  io.run();  // returns only when nothing is left: the hour-long sleep must not keep it going
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(winner, 1u) << "the 5 ms sleep wins";
  EXPECT_TRUE(aborted) << "the loser ended with operation_aborted";
  EXPECT_EQ(sleepers_on(io), 0u);
}

TEST(SleepFor, CancelledSleepsAreLetGoWhileALongOneWaits) {
  tendril::testing::Watchdog watchdog(20s, "cancelled sleeps let go");
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  std::size_t most = 0;
  int won = 0;
  std::exception_ptr error;
  spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // One sleep that outlives the loop below, then 1,000 races each cancelling an hour-long
        // sleep: the cancelled ones must not pile up in the heap for an hour.
        auto keeper = [&]() -> asio::awaitable<void> { co_await td::sleep_for(200ms); };
        asio::co_spawn(co_await asio::this_coro::executor, keeper(), [](std::exception_ptr) {});
        for (int i = 0; i < 1000; ++i) {
          auto result = co_await (td::sleep_for(1h) || td::sleep_for(0ms));
          won += result.index() == 1;
          most = std::max(most, sleepers_on(io));
        }
      },
      &error);
  io.run();
  EXPECT_FALSE(error);
  EXPECT_EQ(won, 1000);
  EXPECT_LE(most, 4u) << "at most as many cancelled sleeps kept as live ones, and the keeper";
  EXPECT_EQ(sleepers_on(io), 0u);
}

TEST(SleepFor, TwoSleepsDueAtOnceRacingEachOtherEndOnceEach) {
  tendril::testing::Watchdog watchdog(20s, "sleeps due at once");
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  int finished = 0;
  std::exception_ptr error;
  spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Both wake in the same pass over the heap: the first to end cancels the other, which
        // was already taken to be woken; it must end once, as woken.
        for (int i = 0; i < 100; ++i) {
          const auto deadline = std::chrono::milliseconds(1);
          co_await (td::sleep_for(deadline) || td::sleep_for(deadline));
          ++finished;
        }
      },
      &error);
  io.run();
  EXPECT_FALSE(error);
  EXPECT_EQ(finished, 100);
  EXPECT_EQ(sleepers_on(io), 0u);
}
