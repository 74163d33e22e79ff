// tendril/stream/flow_jobs.hpp — a flow's jobs from a Redis Streams consumer group, so that
// runtimes on several machines share one flow's jobs.
//
//   tendril::Runtime runtime({.thread_pool_size = 4});
//   runtime.exec(flow);
//   auto jobs = tendril::stream::flow_jobs_worker(
//       runtime, {.endpoint = redis, .stage = "orders", .flow = "orders",
//                 .routine = "intake", .slot = "in", .concurrent_jobs = 8});
//   jobs.run(stop_token);
//
//   // anywhere: each JSON object becomes one job on one of the runtimes
//   auto send = tendril::stream::remote_stage<tendril::Json, tendril::Json>(
//       {.endpoint = redis, .stage = "orders"});
//
// Each entry's item (a JSON object) is posted as a job to routine.slot of the flow's running
// worker in `runtime`, its job id the item's key (current_item_key(): "<run>:<seq>", the same on
// every runtime and delivery); the entry is answered and acknowledged only when the job has
// finished, with {"job_id", "status"} and, for a job that failed, the job's error as the item's
// error. The guarantees are the stream worker's (worker.hpp): at least once, claims after min_idle,
// dead letters after max_deliveries; `concurrent_jobs` bounds the jobs in flight here.
#pragma once

#include <chrono>
#include <string>

#include "tendril/flow/runtime.hpp"
#include "tendril/redis/endpoint.hpp"
#include "tendril/stream/worker.hpp"

namespace tendril::stream {

struct FlowJobsOptions {
  redis::Endpoint endpoint;
  std::string stage;                // the stream's stage name (keys.hpp)
  std::string flow;                 // the flow the runtime runs
  std::string routine, slot;        // where each job is posted
  std::size_t concurrent_jobs = 4;  // consumer threads, each waiting on one job at a time
  std::string consumer = {};
  std::chrono::milliseconds min_idle{5000};
  int max_deliveries = 3;
  std::chrono::milliseconds job_timeout{std::chrono::hours(1)};  // then the job counts as failed
};

// A StreamWorker that feeds `runtime` (which must outlive it).
StreamWorker flow_jobs_worker(Runtime& runtime, FlowJobsOptions options);

}  // namespace tendril::stream
