// tendril — the command-line face of Tendril.
#include <fcntl.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "flow_command.hpp"
#include "scan.hpp"
#include "watch.hpp"

int main(int argc, char** argv) {
  // A closed stdout (`>&-`) is an error now, not a file opened later that takes its number.
  if (::fcntl(STDOUT_FILENO, F_GETFD) == -1) {
    std::fputs("tendril: stdout is closed, so nothing can be written\n", stderr);
    return 1;
  }
  CLI::App app{"tendril: concurrent dataflow pipelines, flows and tool state"};
  app.set_version_flag("--version", std::string("tendril 0.1.0"));
  app.require_subcommand(1);

  tendril::cli::ScanOptions scan;
  scan.workers = std::max(1u, std::thread::hardware_concurrency());
  bool no_progress = false;
  auto* scan_command = app.add_subcommand(
      "scan", "SHA-256 of every file under DIR, as lines `sha256sum -c` accepts");
  scan_command->add_option("DIR", scan.root, "directory to scan")
      ->required()
      ->check(CLI::ExistingDirectory);
  scan_command->add_option("-w,--workers", scan.workers, "hashing workers")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  scan_command->add_flag("--no-progress", no_progress, "never draw the progress line");
  scan_command->add_flag("--stats", scan.stats, "print the pipeline's per-stage metrics");
  scan_command->add_option("--redis", scan.states.redis_url,
                           "publish tool states to this Redis (redis://[user:pass@]host:port/db)");
  scan_command->add_option("--state-file", scan.states.state_file,
                           "with no Redis, append tool states here (JSON lines)");
  scan_command->add_flag("--every-state", scan.states.every_state,
                         "publish every file's state, not only the latest of each flush");
  scan_command->add_flag("--no-state", scan.states.none, "publish no tool states")
      ->excludes("--redis")
      ->excludes("--state-file")
      ->excludes("--every-state");

  tendril::cli::WatchOptions watch;
  auto* watch_command =
      app.add_subcommand("watch", "a live view of tool runs, from Redis or the state file");
  watch_command->add_option("--redis", watch.from.redis_url, "read the stream of this Redis");
  watch_command->add_option("--state-file", watch.from.state_file,
                            "read this JSON-lines file instead");
  watch_command->add_option("--topic", watch.topic, "stream key")->capture_default_str();
  watch_command->add_flag("--once", watch.once, "read the whole history, print the table, exit");
  double watch_interval = 0.5;
  watch_command->add_option("--interval", watch_interval, "seconds between redraws")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  watch_command
      ->add_option("--silent-after", watch.silent_after,
                   "seconds without news before a RUNNING run shows as SILENT")
      ->capture_default_str();

  auto* flow_command = app.add_subcommand("flow", "work with flow files (JSON)");
  flow_command->require_subcommand(1);
  std::string flow_file, graph_output;
  auto* validate_command =
      flow_command->add_subcommand("validate", "load a flow file and report what is wrong");
  validate_command->add_option("FILE", flow_file, "the flow file")->required();
  auto* graph_command = flow_command->add_subcommand(
      "graph", "the flow as a Graphviz graph: DOT on stdout, or drawn into -o FILE.svg");
  graph_command->add_option("FILE", flow_file, "the flow file")->required();
  graph_command->add_option("-o,--output", graph_output,
                            "FILE.dot, or FILE.svg / FILE.png (drawn by Graphviz's dot)");

  tendril::cli::FlowRunOptions run;
  auto* run_command = flow_command->add_subcommand(
      "run", "run a flow file: post each JSON line of stdin to ROUTINE.SLOT, then summarise");
  run_command->add_option("FILE", run.file, "the flow file")->required();
  run_command->add_option("--post", run.post,
                          "where each input line goes: ROUTINE.SLOT (default: the entry point)");
  run_command->add_option("--timeout", run.timeout, "stop after this many seconds (exit 124)");
  run_command->add_option("-t,--threads", run.threads, "pool threads")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  run_command->add_option("--save-state", run.save_state,
                          "write the worker's state (JSON) here at the end");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);  // prints help, the version, or what is wrong
    return status == 0 ? 0 : 2;      // 2: a usage error, as for other Unix tools
  }
  scan.progress = !no_progress;
  if (*scan_command) return tendril::cli::run_scan(scan);
  if (*watch_command) {
    watch.interval = std::chrono::milliseconds(static_cast<long>(watch_interval * 1000));
    return tendril::cli::run_watch(watch);
  }
  if (*validate_command) return tendril::cli::run_flow_validate(flow_file);
  if (*graph_command) return tendril::cli::run_flow_graph(flow_file, graph_output);
  if (*run_command) return tendril::cli::run_flow_run(run);
  return 0;
}
