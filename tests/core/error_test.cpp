// The one error model: what building throws, what running returns, what may be retried.
#include <gtest/gtest.h>

#include <tendril/core/bounded_queue.hpp>
#include <tendril/core/error.hpp>
#include <tendril/core/retry.hpp>
#include <tendril/tendril.hpp>

namespace td = tendril;
using namespace std::chrono_literals;

TEST(Error, BuildingWronglyThrowsOneUsageErrorNamingWhatIsWrong) {
  try {
    td::work_pool({.buffer = 0}, [](int x, td::WorkerState&) { return x; });
    FAIL() << "expected a UsageError";
  } catch (const td::UsageError& e) {
    EXPECT_EQ(e.error().kind, td::ErrorKind::usage);
    EXPECT_NE(std::string(e.what()).find("buffer must be at least 1"), std::string::npos);
  }
  EXPECT_THROW(td::BoundedQueue<int>(0), td::UsageError);
  EXPECT_THROW(td::BoundedQueue<int>(0), std::invalid_argument);  // what it is, for old code
}

TEST(Error, AnExceptionBecomesAnErrorAndAKillSwitchIsItsOwnKind) {
  const td::Error plain =
      td::detail::error_from(std::make_exception_ptr(std::runtime_error("bad digit")));
  EXPECT_EQ(plain.kind, td::ErrorKind::handler);
  EXPECT_EQ(plain.message, "bad digit");
  const td::Error stop = td::detail::error_from(std::make_exception_ptr(td::KillSwitch("halt")));
  EXPECT_EQ(stop.kind, td::ErrorKind::kill_switch);
  EXPECT_EQ(td::detail::error_from(std::make_exception_ptr(42)).message, "unknown exception");
}

TEST(Error, SaysWhetherAnotherAttemptCanHelp) {
  using K = td::ErrorKind;
  for (K kind : {K::handler, K::connection, K::queue_full})
    EXPECT_TRUE(td::Error{.kind = kind}.retryable()) << td::to_string(kind);
  for (K kind : {K::source, K::cancelled, K::kill_switch, K::usage, K::invalid, K::not_found,
                 K::stopped, K::refused})
    EXPECT_FALSE(td::Error{.kind = kind}.retryable()) << td::to_string(kind);
}

TEST(Error, DescribesWhereItAroseInAPipelineOrAFlow) {
  EXPECT_EQ((td::Error{.message = "x", .stage = "parse", .attempts = 3}).describe(),
            "stage 'parse' failed after 3 attempts: x");
  EXPECT_EQ((td::Error{.message = "x", .routine = "count"}).describe(),
            "routine 'count' failed: x");
  EXPECT_EQ((td::Error{.kind = td::ErrorKind::connection, .message = "redis down"}).describe(),
            "redis down");
}

TEST(RetryPolicy, CountsTotalAttemptsAndGrowsItsDelay) {
  const td::RetryPolicy policy{.attempts = 3, .delay = 40ms, .backoff = 2.0, .max_delay = 100ms};
  const td::Error failed{.kind = td::ErrorKind::handler};
  EXPECT_TRUE(policy.retries_after(1, failed));
  EXPECT_TRUE(policy.retries_after(2, failed));
  EXPECT_FALSE(policy.retries_after(3, failed));  // three attempts in all
  EXPECT_FALSE(policy.retries_after(1, td::Error{.kind = td::ErrorKind::kill_switch}));
  EXPECT_EQ(policy.delay_before(2), 40ms);
  EXPECT_EQ(policy.delay_before(3), 80ms);
  EXPECT_EQ(policy.delay_before(4), 100ms);                  // capped
  EXPECT_FALSE(td::RetryPolicy{}.retries_after(1, failed));  // one attempt: never retried
}
