#include "flow_command.hpp"

#include <fmt/core.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <expected>
#include <fstream>
#include <iostream>
#include <tendril/flow.hpp>
#include <tendril/stream/flow_jobs.hpp>
#include <tendril/stream/remote_stage.hpp>
#include <tendril/tendril.hpp>
#include <thread>

#include "job_lines.hpp"
#include "signals.hpp"
#include "terminal.hpp"
#include "tool_states.hpp"

namespace tendril::cli {

namespace {

Result<Flow> load(const std::string& file) {
  register_builtin_routines();
  return Flow::load_file(file);
}

}  // namespace

int run_flow_validate(const std::string& file) {
  auto flow = load(file);
  if (!flow) {
    fmt::print(stderr, "tendril flow validate: {}\n", flow.error().message);
    return 1;
  }
  const auto issues = flow->validate();
  std::size_t errors = 0;
  for (const auto& issue : issues) errors += issue.severity == ValidationIssue::Severity::error;
  fmt::print("{}", key_value_table({
                       {"flow", flow->flow_id()},
                       {"routines", std::to_string(flow->routine_ids().size())},
                       {"connections", std::to_string(flow->links().size())},
                       {"errors", std::to_string(errors)},
                       {"warnings", std::to_string(issues.size() - errors)},
                   }));
  if (!issues.empty()) {
    std::size_t width = 0;
    for (const auto& issue : issues) width = std::max(width, issue.where.size());
    fmt::print("\n");
    for (const auto& issue : issues)
      fmt::print("  {:<7}  {:<{}}  {}\n",
                 issue.severity == ValidationIssue::Severity::error ? "error" : "warning",
                 issue.where, width, issue.message);
  }
  fmt::print("\n{}: {}\n", file, errors ? "NOT valid" : "valid");
  if (!stdout_written("flow validate")) return 1;
  return errors ? 1 : 0;
}

int run_flow_graph(const std::string& file, const std::string& output) {
  auto flow = load(file);
  if (!flow) {
    fmt::print(stderr, "tendril flow graph: {}\n", flow.error().message);
    return 1;
  }
  const std::string dot = flow->to_dot();
  if (output.empty() || output == "-") {
    fmt::print("{}", dot);
    return stdout_written("flow graph") ? 0 : 1;
  }
  const auto ext =
      output.substr(output.rfind('.') == std::string::npos ? output.size() : output.rfind('.'));
  if (ext == ".dot" || ext == ".gv") {
    std::ofstream out(output);
    out << dot;
    out.close();  // the data reaches the file (or fails) here
    if (!out) {
      fmt::print(stderr, "tendril flow graph: cannot write {}: {}\n", output, std::strerror(errno));
      return 1;
    }
    return 0;
  }
  if (ext != ".svg" && ext != ".png") {
    fmt::print(stderr, "tendril flow graph: {}: give a .dot, .svg or .png file\n", output);
    return 1;
  }
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    fmt::print(stderr,
               "tendril flow graph: Graphviz's `dot` is not installed, so {} cannot be drawn; "
               "install graphviz, or write DOT with -o FILE.dot\n",
               output);
    return 1;
  }
  // The output name goes to dot as one argument, quoted for the shell.
  std::string quoted = "'";
  for (char c : output) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  const std::string command = "dot -T" + ext.substr(1) + " -o " + quoted;
  FILE* pipe = popen(command.c_str(), "w");
  if (!pipe) {
    fmt::print(stderr, "tendril flow graph: cannot run dot\n");
    return 1;
  }
  std::fwrite(dot.data(), 1, dot.size(), pipe);
  const int status = pclose(pipe);
  if (status != 0) {
    fmt::print(stderr, "tendril flow graph: dot failed (exit {}) writing {}\n",
               WIFEXITED(status) ? WEXITSTATUS(status) : -1, output);
    return 1;
  }
  fmt::print(stderr, "wrote {}\n", output);
  return 0;
}

namespace {

// Where `flow run` posts: --post ROUTINE.SLOT, checked against the flow, or the flow's one entry
// point when it has a single slot.
std::expected<std::pair<std::string, std::string>, std::string> post_target(
    const Flow& flow, const std::string& post) {
  if (post.empty()) {
    const auto entries = flow.entry_points();
    if (entries.size() == 1 && flow.routine(entries[0])->slots().size() == 1)
      return std::pair{entries[0], flow.routine(entries[0])->slots()[0].name};
    std::string known;
    for (const auto& id : entries)
      for (const auto& slot : flow.routine(id)->slots())
        known += (known.empty() ? "" : ", ") + id + "." + slot.name;
    return std::unexpected("say where each line goes with --post ROUTINE.SLOT" +
                           (known.empty() ? std::string(" (the flow marks no entry point)")
                                          : " (entry points: " + known + ")"));
  }
  const auto dot = post.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == post.size())
    return std::unexpected("--post wants ROUTINE.SLOT, got '" + post + "'");
  const std::string routine = post.substr(0, dot), slot = post.substr(dot + 1);
  const Routine* r = flow.routine(routine);
  if (!r) {
    std::string ids;
    for (const auto& id : flow.routine_ids()) ids += (ids.empty() ? "" : ", ") + id;
    return std::unexpected("--post " + post + ": flow '" + flow.flow_id() + "' has no routine '" +
                           routine + "' (it has: " + ids + ")");
  }
  std::string slots;
  for (const auto& s : r->slots()) {
    if (s.name == slot) return std::pair{routine, slot};
    slots += (slots.empty() ? "" : ", ") + s.name;
  }
  return std::unexpected("--post " + post + ": routine '" + routine + "' has no slot '" + slot +
                         "' (its slots: " + (slots.empty() ? "none" : slots) + ")");
}

}  // namespace

int run_flow_run(const FlowRunOptions& options) {
  auto flow = load(options.file);
  if (!flow) {
    fmt::print(stderr, "tendril flow run: {}\n", flow.error().message);
    return 1;
  }
  const auto target = post_target(*flow, options.post);  // before a line of stdin is read
  if (!target) {
    fmt::print(stderr, "tendril flow run: {}\n", target.error());
    return 2;
  }
  const auto& [routine, slot] = *target;

  std::atomic<int> interrupted{0};
  SignalWatcher signals([&](int signal) { interrupted = signal; });  // before any thread starts
  std::atomic<std::uint64_t> completed{0}, failed{0}, cancelled{0};
  RuntimeHooks hooks;
  hooks.on_job_end = [&](const JobContext& job) {
    switch (job.status()) {
      case JobStatus::completed:
        ++completed;
        break;
      case JobStatus::failed:
        ++failed;
        fmt::print(stderr, "job {} failed: {}\n", job.job_id(),
                   job.error() ? job.error()->describe() : "?");
        break;
      default:
        ++cancelled;
    }
  };
  FlowRegistry registry;
  Runtime runtime({.thread_pool_size = options.threads, .registry = &registry, .hooks = hooks});
  auto worker = runtime.exec(*flow);
  if (!worker) {
    fmt::print(stderr, "tendril flow run: {}\n", worker.error().message);
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = options.timeout.count() > 0 ? start + options.timeout
                                                    : std::chrono::steady_clock::time_point::max();
  const auto stopped = [&] {
    return interrupted != 0 || std::chrono::steady_clock::now() >= deadline;
  };
  std::uint64_t posted = 0;
  if (!options.from_stream.empty()) {
    // Serving a consumer group: its entries are the jobs, until a signal or the timeout.
    StateDestination from;
    from.redis_url = options.redis_url;
    auto endpoint = read_endpoint(from);
    if (!endpoint || !*endpoint) {
      fmt::print(
          stderr, "tendril flow run: --from-stream needs a Redis: {}\n",
          endpoint ? "give --redis URL (or set PREFECT_REDIS_MESSAGING_URL)" : endpoint.error());
      return 2;
    }
    auto jobs = stream::flow_jobs_worker(runtime, {.endpoint = **endpoint,
                                                   .stage = options.from_stream,
                                                   .flow = flow->flow_id(),
                                                   .routine = routine,
                                                   .slot = slot,
                                                   .concurrent_jobs = options.concurrent_jobs});
    std::atomic<bool> ended{false};
    Result<stream::WorkerStats> served;
    {
      std::jthread serving([&](std::stop_token stop) {
        served = jobs.run(stop);
        ended = true;
      });
      while (!stopped() && !ended) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!served) {
      fmt::print(stderr, "tendril flow run: {}\n", served.error().message);
      return 2;
    }
    posted = served->processed + served->failed;
    fmt::print(stderr, "tendril flow run: served {} jobs from stream stage '{}' on {}\n", posted,
               options.from_stream, (*endpoint)->describe());
  }
  JobLines input(STDIN_FILENO);
  Json data;
  for (bool more = options.from_stream.empty(); more && !stopped();) {
    switch (input.next(data, std::chrono::milliseconds(100))) {
      case JobLines::Status::idle:
        continue;
      case JobLines::Status::end:
        more = false;
        continue;
      case JobLines::Status::job:
        break;
    }
    for (;;) {  // a full slot is backpressure: wait for room
      auto result = runtime.post(flow->flow_id(), routine, slot, data);
      if (result) {
        ++posted;
        break;
      }
      if (result.error().kind != ErrorKind::queue_full) {
        fmt::print(stderr, "tendril flow run: {}\n", result.error().message);
        runtime.shutdown(false);
        return 1;
      }
      if (stopped()) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  if (input.error() != 0)
    fmt::print(stderr, "tendril flow run: reading stdin: {}\n", std::strerror(input.error()));
  // Every posted job finishes, within what is left of --timeout; Ctrl-C or the deadline
  // cancels what has not started.
  const auto now = std::chrono::steady_clock::now();
  if (stopped())
    runtime.shutdown(false);
  else
    runtime.shutdown(true,
                     deadline == std::chrono::steady_clock::time_point::max()
                         ? std::chrono::hours(24)
                         : std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
  const bool timed_out = interrupted == 0 && std::chrono::steady_clock::now() >= deadline;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const FlowWorkerState& state = *runtime.worker_state(*worker);
  std::vector<std::pair<std::string, std::string>> rows{
      {"flow", flow->flow_id()},
      {"worker", *worker},
      {"posted to", routine + "." + slot},
      {"jobs from", options.from_stream.empty() ? std::string("stdin")
                                                : "stream stage '" + options.from_stream + "'"},
      {"jobs posted", std::to_string(posted)},
      {"completed", std::to_string(completed.load())},
      {"failed", std::to_string(failed.load())},
      {"cancelled", std::to_string(cancelled.load())},
      {"bad input lines", std::to_string(input.bad_lines())},
      {"worker status", to_string(state.status())},
      {"elapsed", fmt::format("{:.3f} s", seconds)},
  };
  if (interrupted != 0)
    rows.emplace_back("stopped by", interrupted == SIGINT ? "Ctrl-C" : "SIGTERM");
  else if (timed_out)
    rows.emplace_back("stopped by", fmt::format("--timeout {} s", options.timeout.count()));
  fmt::print(stderr, "{}", key_value_table(rows));
  if (!options.save_state.empty()) {
    std::ofstream out(options.save_state);
    out << state.to_json().dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    out.close();  // the data reaches the file (or fails) here, not in a destructor
    if (!out) {
      fmt::print(stderr, "tendril flow run: cannot write {}: {}\n", options.save_state,
                 std::strerror(errno));
      return 1;
    }
  }
  if (!options.from_stream.empty()) return failed == 0 ? 0 : 1;  // stopping is how serving ends
  if (interrupted != 0) return 128 + interrupted;
  if (timed_out) return 124;
  return failed == 0 && cancelled == 0 && input.bad_lines() == 0 ? 0 : 1;
}

int run_flow_send(const FlowSendOptions& options) {
  StateDestination from;
  from.redis_url = options.redis_url;
  auto endpoint = read_endpoint(from);
  if (!endpoint || !*endpoint) {
    fmt::print(
        stderr, "tendril flow send: needs a Redis: {}\n",
        endpoint ? "give --redis URL (or set PREFECT_REDIS_MESSAGING_URL)" : endpoint.error());
    return 2;
  }
  std::atomic<int> interrupted{0};
  std::function<void()> cancel;
  std::mutex cancel_mutex;
  SignalWatcher signals([&](int signal) {
    interrupted = signal;
    std::lock_guard lock(cancel_mutex);
    if (cancel) cancel();
  });
  std::uint64_t sent = 0;
  JobLines input(STDIN_FILENO);
  auto lines = [&]() -> std::optional<Json> {
    Json job;
    for (;;) {
      switch (input.next(job, std::chrono::milliseconds(100))) {
        case JobLines::Status::idle:
          if (interrupted) return std::nullopt;
          continue;
        case JobLines::Status::end:
          return std::nullopt;
        case JobLines::Status::job:
          ++sent;
          return job;
      }
    }
  };
  auto send = stream::remote_stage<Json, Json>({.endpoint = **endpoint,
                                                .stage = options.stage,
                                                .max_in_flight = options.max_in_flight,
                                                .ordered = true,
                                                .items_per_entry = 1,  // jobs wait: spread them
                                                .on_error = OnError::pass});
  auto pipe = Pipeline(lines) >> send;
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t completed = 0, failed = 0;
  auto outcomes = pipe.iter_results();
  {
    std::lock_guard lock(cancel_mutex);
    cancel = [&pipe] { pipe.cancel("interrupted"); };
  }
  for (auto& outcome : outcomes) {
    if (outcome) {
      ++completed;
      std::fputs((outcome->dump() + "\n").c_str(), stdout);
    } else {
      ++failed;
      std::fputs(
          (Json{{"status", "failed"}, {"error", outcome.error().message}}.dump() + "\n").c_str(),
          stdout);
    }
  }
  auto result = outcomes.result();
  {
    std::lock_guard lock(cancel_mutex);
    cancel = nullptr;
  }
  const bool written = stdout_written("flow send");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::pair<std::string, std::string>> rows{
      {"stage", options.stage},
      {"jobs sent", std::to_string(sent)},
      {"completed", std::to_string(completed)},
      {"failed", std::to_string(failed)},
      {"bad input lines", std::to_string(input.bad_lines())},
      {"elapsed", fmt::format("{:.3f} s", seconds)}};
  if (!result) rows.emplace_back("outcome", result.error().describe());
  fmt::print(stderr, "{}", key_value_table(rows));
  if (!result && result.error().kind == ErrorKind::connection) return 2;
  if (interrupted != 0) return 128 + interrupted;
  return written && result && failed == 0 && input.bad_lines() == 0 ? 0 : 1;
}

}  // namespace tendril::cli
