// cli/flow_command.hpp — `tendril flow validate FILE` and `tendril flow graph FILE`.
#pragma once

#include <chrono>
#include <string>

namespace tendril::cli {

// Loads and validates a flow file (built-in routine types registered): prints a summary, then a
// table of issues. Exit status: 0 valid (warnings allowed), 1 not valid or not loadable.
int run_flow_validate(const std::string& file);

// Writes the flow as Graphviz DOT: to stdout, to `output` when it ends in .dot, or rendered by
// Graphviz's `dot` when it ends in .svg or .png. Exit status 0, or 1 with a message.
int run_flow_graph(const std::string& file, const std::string& output);

struct FlowRunOptions {
  std::string file;
  std::string post;  // ROUTINE.SLOT each input line goes to; empty: the flow's one entry point
  std::size_t threads = 2;
  std::string save_state;           // write the worker's state here (JSON) at the end
  std::chrono::seconds timeout{0};  // 0: none
  // --from-stream STAGE: serve the jobs of that consumer group (on --redis, or the environment's
  // Redis) instead of reading stdin, until Ctrl-C, SIGTERM or the timeout.
  std::string from_stream;
  std::string redis_url;
  std::size_t concurrent_jobs = 4;
};

// Runs a flow file: every line of stdin (a JSON object) is posted as a job to ROUTINE.SLOT
// (checked before stdin is read); then waits for every job and prints a summary table on
// stderr. Ctrl-C, SIGTERM or the timeout stop reading, cancel what has not started, and still
// print the summary. Exit 0 when every job completed; 1 when some failed or were cancelled, a
// line was not a JSON object, the state could not be saved, or the file does not load; 2 for a
// wrong --post; 124 at the timeout; 128+N on signal N (130 for Ctrl-C).
// With --from-stream: exit 0 when serving was stopped (signal or timeout) and every job that
// ran completed, 1 when some failed, 2 when there is no Redis or it cannot be used.
int run_flow_run(const FlowRunOptions& options);

struct FlowSendOptions {
  std::string stage;
  std::string redis_url;
  std::size_t max_in_flight = 64;
};

// Sends every line of stdin (a JSON object) as a job to the consumer group STAGE (runtimes
// serving it with `flow run --from-stream STAGE`), and prints each job's outcome as one JSON
// line on stdout, in input order; then a summary on stderr. Exit 0 when every job completed;
// 1 when some failed or a line was bad; 2 when there is no Redis or it cannot be used.
int run_flow_send(const FlowSendOptions& options);

}  // namespace tendril::cli
