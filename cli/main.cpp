// tendril — the command-line face of Tendril.
#include <fcntl.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "distributed.hpp"
#include "flow_command.hpp"
#include "scan.hpp"
#include "suggest.hpp"
#include "terminal.hpp"
#include "watch.hpp"

namespace {

constexpr const char* kFooter = R"(
Exit status: 0 done; 1 failed (some files or jobs, or output that could not be written);
2 usage error; 3 scan: everything hashed but tool states lost; 124 flow run: --timeout;
130 interrupted (Ctrl-C).

Environment: PREFECT_REDIS_MESSAGING_URL, or _HOST, _PORT, _DB, _USERNAME, _PASSWORD: the Redis
that tool states go to and `watch` reads, when --redis is not given. PREFECT__FLOW_RUN_ID: the
flow run id stamped on tool states. XDG_STATE_HOME (else HOME): where the state file lives.

Docs: docs/cli.md. `tendril help COMMAND` shows a command's options.)";

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

// "tendril sacn": CLI11 only says a subcommand is required. Finds the first word given where a
// subcommand was expected that is none, and says so, with the closest one.
bool unknown_command(CLI::App& app, int argc, char** argv) {
  CLI::App* current = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.starts_with('-') || current->get_subcommands({}).empty()) return false;
    if (current == &app && word == "help") return false;
    CLI::App* next = nullptr;
    for (CLI::App* sub : current->get_subcommands({}))
      if (sub->get_name() == word) next = sub;
    if (!next) {
      const auto names = subcommand_names(*current);
      std::string known;
      for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
      const std::string where = current == &app ? "tendril" : "tendril " + current->get_name();
      std::fprintf(stderr, "%s: unknown command '%s'", where.c_str(), word.c_str());
      if (auto best = tendril::cli::closest(word, names))
        std::fprintf(stderr, "; did you mean '%s'?", best->c_str());
      std::fprintf(stderr, "\ncommands: %s (see `%s --help`)\n", known.c_str(), where.c_str());
      return true;
    }
    current = next;
  }
  return false;
}

// The option closest to the one CLI11 did not expect, among those of the command it was given to.
std::optional<std::string> closest_option(const CLI::App& app, const std::string& message) {
  const auto colon = message.rfind(": ");
  if (colon == std::string::npos) return std::nullopt;
  std::string word = message.substr(colon + 2);
  word = word.substr(0, word.find(' '));
  const CLI::App* deepest = &app;
  for (bool deeper = true; deeper;) {
    deeper = false;
    for (const CLI::App* sub : deepest->get_subcommands())
      if (sub->parsed()) {
        deepest = sub;
        deeper = true;
        break;
      }
  }
  std::vector<std::string> names;
  for (const CLI::Option* option : deepest->get_options()) {
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
    for (const auto& name : option->get_snames()) names.push_back("-" + name);
  }
  return tendril::cli::closest(word, names);
}

}  // namespace

int main(int argc, char** argv) {
  // A closed stdout (`>&-`) is an error now, not a file opened later that takes its number.
  if (::fcntl(STDOUT_FILENO, F_GETFD) == -1) {
    std::fputs("tendril: stdout is closed, so nothing can be written\n", stderr);
    return 1;
  }
  CLI::App app{"tendril: concurrent dataflow pipelines, flows and tool state"};
  app.set_version_flag("-V,--version", std::string("tendril ") + TENDRIL_VERSION);
  app.require_subcommand(1);
  app.footer(kFooter);
  std::vector<std::string> help_topic;
  auto* help_command = app.add_subcommand("help", "show the help of tendril, or of a command");
  help_command->add_option("COMMAND", help_topic, "a command, e.g. scan, or flow run");

  tendril::cli::ScanOptions scan;
  scan.workers = std::max(1u, std::thread::hardware_concurrency());
  bool no_progress = false;
  auto* scan_command = app.add_subcommand(
      "scan", "SHA-256 of every file under each PATH, as lines `sha256sum -c` accepts");
  tendril::cli::CheckOptions check;
  bool quiet = false;
  scan_command->add_option("PATH", scan.operands,
                           "files and directories to hash (directories: all below them)");
  scan_command->add_option("-c,--check", check.manifest,
                           "verify the digests in this manifest (- for stdin), as sha256sum -c");
  scan_command
      ->add_option("--exclude", scan.walk.excludes,
                   "leave out what matches this shell pattern (a name, or a path if it "
                   "has a /); repeatable")
      ->allow_extra_args(false);  // one pattern per --exclude: the PATHs stay PATHs
  scan_command->add_flag("-x,--one-file-system", scan.walk.one_file_system,
                         "do not enter directories on other file systems");
  scan_command->add_flag("--sort", scan.sort,
                         "print the lines in byte order of the names, once all are hashed");
  scan_command->add_flag("--json", scan.json, "the summary as one JSON object on stderr");
  scan_command->add_flag("-q,--quiet", quiet,
                         "no progress line and no summary (with --check: no OK lines)");
  scan_command->add_flag("--status", check.status, "with --check: no output, only the status");
  scan_command->add_flag("--strict", check.strict,
                         "with --check: an improperly formatted line fails the check");
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
  scan_command->add_flag("--distributed", scan.distributed,
                         "hash on `tendril worker`s of the scan group, on the Redis of --redis");
  scan_command
      ->add_option("--max-in-flight", scan.max_in_flight,
                   "with --distributed: files sent and not yet answered, at most")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  scan_command->add_flag("--no-state", scan.states.none, "publish no tool states")
      ->excludes("--redis")
      ->excludes("--state-file")
      ->excludes("--every-state");

  tendril::cli::WorkerCommandOptions worker;
  worker.workers = std::max(1u, std::thread::hardware_concurrency());
  auto* worker_command = app.add_subcommand(
      "worker", "join the scan group on Redis and hash what `tendril scan --distributed` sends");
  worker_command->add_option("--redis", worker.redis_url,
                             "the Redis of the scan group (redis://[user:pass@]host:port/db)");
  worker_command->add_option("-w,--workers", worker.workers, "hashing threads")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  worker_command
      ->add_option("--min-idle", worker.min_idle_seconds,
                   "seconds a pending file may idle before a live worker takes it over")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  worker_command
      ->add_option("--max-deliveries", worker.max_deliveries,
                   "deliveries of a file before it goes to the dead-letter stream")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  worker_command->add_flag("-q,--quiet", worker.quiet, "no banner and no summary");

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
  run_command->add_option("--from-stream", run.from_stream,
                          "serve the jobs of this stream stage's consumer group, not stdin");
  run_command->add_option("--redis", run.redis_url, "with --from-stream: the group's Redis");
  run_command
      ->add_option("--concurrent-jobs", run.concurrent_jobs,
                   "with --from-stream: jobs in flight at once")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();

  tendril::cli::FlowSendOptions send;
  auto* send_command = flow_command->add_subcommand(
      "send", "send each JSON line of stdin as a job to the runtimes serving STAGE");
  send_command->add_option("STAGE", send.stage, "the stream stage (flow run --from-stream)")
      ->required();
  send_command->add_option("--redis", send.redis_url, "the stage's Redis");
  send_command->add_option("--max-in-flight", send.max_in_flight, "jobs sent and not answered")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();

  if (unknown_command(app, argc, argv)) return 2;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);  // prints help, the version, or what is wrong
    if (status != 0)
      if (auto best = closest_option(app, e.what()))
        std::fprintf(stderr, "did you mean '%s'?\n", best->c_str());
    return status == 0 ? 0 : 2;  // 2: a usage error, as for other Unix tools
  }
  if (*help_command) {
    CLI::App* topic = &app;
    for (const auto& word : help_topic) {
      CLI::App* next = nullptr;
      for (CLI::App* sub : topic->get_subcommands({}))
        if (sub->get_name() == word) next = sub;
      if (!next) {
        std::fprintf(stderr, "tendril help: no command '%s'\n", word.c_str());
        return 2;
      }
      topic = next;
    }
    std::fputs(topic->help().c_str(), stdout);
    return tendril::cli::stdout_written("help") ? 0 : 1;
  }
  scan.progress = !no_progress;
  if (*scan_command) {
    scan.quiet = check.quiet = quiet;
    if (!check.manifest.empty()) {
      if (!scan.operands.empty()) {
        std::fputs("tendril scan: give PATHs to scan, or --check MANIFEST, not both\n", stderr);
        return 2;
      }
      check.workers = scan.workers;
      return tendril::cli::run_check(check);
    }
    if (scan.operands.empty()) {
      std::fputs("tendril scan: a PATH is required (or --check MANIFEST)\n", stderr);
      return 2;
    }
    return tendril::cli::run_scan(scan);
  }
  if (*worker_command) return tendril::cli::run_worker(worker);
  if (*watch_command) {
    watch.interval = std::chrono::milliseconds(static_cast<long>(watch_interval * 1000));
    return tendril::cli::run_watch(watch);
  }
  if (*validate_command) return tendril::cli::run_flow_validate(flow_file);
  if (*graph_command) return tendril::cli::run_flow_graph(flow_file, graph_output);
  if (*run_command) return tendril::cli::run_flow_run(run);
  if (*send_command) return tendril::cli::run_flow_send(send);
  return 0;
}
