// tendril/pipeline/metrics.hpp — what a pipeline run did, per stage and in total.
//
// Plain values, filled in when a run ends; safe to copy and read anywhere.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tendril {

struct StageMetrics {
  std::string name;
  std::size_t workers = 0;
  std::uint64_t processed = 0;       // items this stage passed on
  std::uint64_t failed = 0;          // items that failed here after every attempt
  std::uint64_t retried = 0;         // attempts beyond the first, successful or not
  std::chrono::nanoseconds busy{0};  // time spent inside handlers, summed over workers
  std::size_t queue_capacity = 0;    // the stage's buffer (per worker queue in fork_merge)
  std::size_t queue_high_water = 0;  // the most items ever waiting in its input queue(s)
  // Handler latency per call (each attempt), from the calls timed: every call that takes 2 µs
  // or more, one in 256 of shorter ones, every coroutine attempt. Within 12.5% (max: exact).
  std::chrono::nanoseconds latency_p50{0};
  std::chrono::nanoseconds latency_p99{0};
  std::chrono::nanoseconds latency_max{0};
  std::uint64_t latency_samples = 0;  // calls timed
  std::uint64_t worker_crashes = 0;   // multi_proc: worker processes that died on an item
  std::uint64_t worker_restarts = 0;  // multi_proc: worker processes started to replace one
};

struct Metrics {
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point stop;
  std::chrono::nanoseconds duration{0};
  std::uint64_t produced = 0;   // items the source yielded
  std::uint64_t processed = 0;  // items that left the last stage
  std::uint64_t failed = 0;     // items that failed, summed over stages
  std::vector<StageMetrics> stages;

  // A fixed-width table with one row per stage, for terminals and logs.
  std::string table() const;
};

}  // namespace tendril
