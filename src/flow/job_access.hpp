// src/flow/job_access.hpp — the runtime's side of JobContext: counting a job's outstanding work
// and ending it. Internal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "tendril/core/error.hpp"
#include "tendril/flow/job_context.hpp"

namespace tendril::detail {

struct JobAccess {
  enum class End { none, completed, failed, cancelled };

  // One more piece of work (an item in a slot, an activation running) for the job.
  static void add_work(JobContext& job, std::int64_t n = 1);
  // `n` pieces done; when none is left, the job ends and this returns how (once). Waiters are
  // released only by `announce`, once the runtime's own bookkeeping for the job is done.
  static End finish_work(JobContext& job, std::int64_t n = 1);
  static void announce(JobContext& job);
  // pending -> running; true the first time.
  static bool start(JobContext& job);
  // The job will end failed (the first error is kept as its error).
  static void fail(JobContext& job, const Error& error);
  // The job will end cancelled unless it failed.
  static void cancel(JobContext& job);
  static void record_error(JobContext& job, Json error);
  // job.trace(routine, action, {{number_key, number}}) (or no details when number_key is null),
  // without building the details until the trace is read.
  static void trace(JobContext& job, const std::string& routine, const char* action,
                    const char* number_key, std::int64_t number,
                    std::chrono::system_clock::time_point at);
};

// The thread's current job, which the runtime sets around each activation (tendril::current_job
// reads it).
JobContext*& current_job_slot() noexcept;

}  // namespace tendril::detail
