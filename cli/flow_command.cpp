#include "flow_command.hpp"

#include <fmt/core.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <tendril/flow.hpp>
#include <thread>

#include "job_lines.hpp"
#include "terminal.hpp"

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
    return 0;
  }
  const auto ext =
      output.substr(output.rfind('.') == std::string::npos ? output.size() : output.rfind('.'));
  if (ext == ".dot" || ext == ".gv") {
    std::ofstream out(output);
    out << dot;
    if (!out) {
      fmt::print(stderr, "tendril flow graph: cannot write {}\n", output);
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

int run_flow_run(const FlowRunOptions& options) {
  auto flow = load(options.file);
  if (!flow) {
    fmt::print(stderr, "tendril flow run: {}\n", flow.error().message);
    return 1;
  }
  const auto dot = options.post.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == options.post.size()) {
    fmt::print(stderr, "tendril flow run: --post wants ROUTINE.SLOT, got '{}'\n", options.post);
    return 2;
  }
  const std::string routine = options.post.substr(0, dot), slot = options.post.substr(dot + 1);

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
  std::uint64_t posted = 0, bad_lines = 0, line_number = 0;
  for (std::string line; std::getline(std::cin, line);) {
    ++line_number;
    auto read = read_job_line(line);
    if (read && !*read) continue;  // a blank line
    if (!read) {
      const std::string& what = read.error();
      fmt::print(stderr, "stdin:{}{}{}, skipped\n", line_number,
                 what.front() >= '0' && what.front() <= '9' ? ":" : ": ", what);
      ++bad_lines;
      continue;
    }
    Json data = std::move(**read);
    for (;;) {  // a full slot is backpressure: wait for room
      auto result = runtime.post(flow->flow_id(), routine, slot, data);
      if (result) break;
      if (result.error().kind != ErrorKind::queue_full) {
        fmt::print(stderr, "tendril flow run: {}\n", result.error().message);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ++posted;
  }
  runtime.shutdown();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const FlowWorkerState& state = *runtime.worker_state(*worker);
  fmt::print(stderr, "{}",
             key_value_table({
                 {"flow", flow->flow_id()},
                 {"worker", *worker},
                 {"jobs posted", std::to_string(posted)},
                 {"completed", std::to_string(completed.load())},
                 {"failed", std::to_string(failed.load())},
                 {"cancelled", std::to_string(cancelled.load())},
                 {"bad input lines", std::to_string(bad_lines)},
                 {"worker status", to_string(state.status())},
                 {"elapsed", fmt::format("{:.3f} s", seconds)},
             }));
  if (!options.save_state.empty()) {
    std::ofstream out(options.save_state);
    out << state.to_json().dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
    if (!out) {
      fmt::print(stderr, "tendril flow run: cannot write {}\n", options.save_state);
      return 1;
    }
  }
  return failed == 0 && cancelled == 0 && bad_lines == 0 ? 0 : 1;
}

}  // namespace tendril::cli
