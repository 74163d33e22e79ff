#include "tendril/stream/flow_jobs.hpp"

#include "tendril/flow/job_context.hpp"

namespace tendril::stream {

StreamWorker flow_jobs_worker(Runtime& runtime, FlowJobsOptions options) {
  WorkerOptions worker{.endpoint = options.endpoint,
                       .stage = options.stage,
                       .num_workers = options.concurrent_jobs,
                       .retries = 1,  // a job's retries are its routines' error handlers
                       .consumer = options.consumer,
                       .min_idle = options.min_idle,
                       .max_deliveries = options.max_deliveries,
                       .batch = 1};  // one job at a time per thread: none waits behind another
  return stream_worker(
      std::move(worker), [&runtime, options = std::move(options)](Json data) -> Result<Json> {
        if (!data.is_object() && !data.is_null())
          return std::unexpected(Error{.kind = ErrorKind::invalid,
                                       .message = "a job's data must be a JSON object, got " +
                                                  std::string(data.type_name())});
        // The item's key names the job: the same on every runtime, and on a redelivery.
        auto posted = runtime.post(options.flow, options.routine, options.slot, std::move(data),
                                   {.job_id = std::string(current_item_key())});
        if (!posted) return std::unexpected(posted.error());
        const auto& job = posted->job;
        if (!job->wait(options.job_timeout))
          return std::unexpected(Error{.kind = ErrorKind::handler,
                                       .message = "job " + job->job_id() + " did not finish in " +
                                                  std::to_string(options.job_timeout.count()) +
                                                  " ms"});
        if (job->status() != JobStatus::completed) {
          Error error = job->error().value_or(
              Error{.kind = ErrorKind::cancelled,
                    .message = "job " + job->job_id() + " was " + to_string(job->status())});
          return std::unexpected(std::move(error));
        }
        return Json{{"job_id", job->job_id()},
                    {"worker_id", posted->worker_id},
                    {"status", to_string(job->status())}};
      });
}

}  // namespace tendril::stream
