#include "scan.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <tendril/state/publisher.hpp>
#include <tendril/stream/remote_stage.hpp>
#include <tendril/tendril.hpp>
#include <thread>
#include <vector>

#include "distributed.hpp"
#include "scan_progress.hpp"
#include "sha256.hpp"
#include "signals.hpp"
#include "terminal.hpp"
#include "walk.hpp"

namespace tendril::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Counters shared by the walk, the workers, the printing thread and the progress line.
struct ScanCounters {
  std::atomic<std::uint64_t> found{0};
  std::atomic<std::uint64_t> hashed{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<bool> walk_done{false};
  // What the counting walk has found so far: the total, once counted is true.
  std::atomic<std::uint64_t> total_files{0};
  std::atomic<std::uint64_t> total_bytes{0};
  std::atomic<bool> counted{false};
};

// A second walk over the same paths, ahead of the hashing (whose walk the pipeline's bounded
// buffer holds back), that counts the entries and the bytes of the regular files: the progress
// line's total and ETA. It says nothing (the hashing walk reports what is wrong) and stops when
// the scan does.
class TreeCount {
 public:
  TreeCount(const ScanOptions& options, ScanCounters& counters, bool wanted) {
    if (!wanted) return;
    thread_ = std::jthread([&options, &counters](std::stop_token stop) {
      FileWalk walk(options.operands, options.walk, [](const std::string&, const std::string&) {});
      while (!stop.stop_requested()) {
        const auto path = walk.next();
        if (!path) {
          counters.counted = true;
          return;
        }
        struct stat info {};
        if (::stat(path->c_str(), &info) == 0 && S_ISREG(info.st_mode))
          counters.total_bytes += static_cast<std::uint64_t>(info.st_size);
        ++counters.total_files;
      }
    });
  }

 private:
  std::jthread thread_;
};

// One sha256sum line; names with a backslash, newline or carriage return are escaped the way
// sha256sum (coreutils 9.1) does.
void print_digest(const FileDigest& digest) {
  if (digest.path.find_first_of("\\\n\r") == std::string::npos) {
    std::fputs(digest.hex.c_str(), stdout);
    std::fputs("  ", stdout);
    std::fputs(digest.path.c_str(), stdout);
    std::fputc('\n', stdout);
    return;
  }
  std::string escaped;
  for (char c : digest.path) {
    if (c == '\\')
      escaped += "\\\\";
    else if (c == '\n')
      escaped += "\\n";
    else if (c == '\r')
      escaped += "\\r";
    else
      escaped += c;
  }
  std::fprintf(stdout, "\\%s  %s\n", digest.hex.c_str(), escaped.c_str());
}

// Redraws the progress line every 200 ms until stopped.
class ProgressLine {
 public:
  ProgressLine(Terminal& terminal, const ScanCounters& counters)
      : terminal_(terminal), counters_(counters), started_(Clock::now()) {
    if (terminal_.shows_progress()) thread_ = std::thread([this] { loop(); });
  }
  ~ProgressLine() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    terminal_.clear_progress();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    draw();
    while (!wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_; })) draw();
  }
  void draw() {
    ScanProgress now;
    now.errors = counters_.errors.load();
    now.files_done = counters_.hashed.load() + now.errors;
    now.bytes_done = counters_.bytes.load();
    now.total_known = counters_.counted.load() || counters_.walk_done.load();
    now.files_total =
        counters_.walk_done.load() ? counters_.found.load() : counters_.total_files.load();
    now.bytes_total = counters_.counted.load() ? counters_.total_bytes.load() : 0;
    if (!now.total_known) now.bytes_total = counters_.total_bytes.load();  // so far
    now.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    now.tick = tick_++;
    terminal_.progress(render_scan_progress(now, terminal_width(STDERR_FILENO)));
  }

  Terminal& terminal_;
  const ScanCounters& counters_;
  const Clock::time_point started_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mutex_
  unsigned tick_ = 0;
  std::thread thread_;
};

}  // namespace

int run_scan(const ScanOptions& options) {
  // Before any thread starts, so that every thread inherits SIGINT/SIGTERM blocked and the
  // watcher alone receives them; it cancels the pipeline once there is one.
  std::mutex cancel_mutex;
  std::function<void()> cancel;    // guarded by cancel_mutex
  bool interrupted_early = false;  // guarded by cancel_mutex: Ctrl-C before the pipeline existed
  SignalWatcher signals([&](int) {
    std::lock_guard lock(cancel_mutex);
    if (cancel) {
      cancel();
    } else {
      interrupted_early = true;
    }
  });

  Terminal terminal(options.progress && !options.quiet);
  ScanCounters counters;
  auto publisher_config = publisher_options(options.states);
  if (!publisher_config) {
    terminal.message("tendril scan: " + publisher_config.error());
    return 2;
  }
  publisher_config->on_warning = [&terminal](const std::string& line) { terminal.message(line); };
  state::ToolStatePublisher publisher(*publisher_config);
  state::ToolStateManager states(publisher, "tendril scan", {"walk", "sha256"});
  const std::string scanned = fmt::format("{}", fmt::join(options.operands, " "));
  states.starting_tool("scanning " + scanned);
  auto report = [&](const std::string& path, const std::string& message) {
    ++counters.errors;
    terminal.message(fmt::format("tendril scan: {}: {}", path, message));
  };

  FileWalk walk(options.operands, options.walk, report);
  auto source = [&]() -> std::optional<std::string> {
    auto path = walk.next();
    if (path)
      ++counters.found;
    else
      counters.walk_done = true;
    return path;
  };
  auto hash = work_pool(
      {.buffer = 4 * options.workers,
       .num_workers = options.workers,
       .dead_letter = [&](const std::string& path,
                          const Error& error) { report(path, error.message); },
       .name = "sha256"},
      [](std::string path, WorkerState& state) {
        return state.get_or_create("hasher", [] { return std::make_unique<FileHasher>(); })
            ->hash(path, state.stop_token());
      });
  // Distributed: the walk's paths go, absolute, to the scan group's workers.
  std::optional<redis::Endpoint> remote_redis;
  if (options.distributed) {
    auto endpoint = read_endpoint(options.states);
    if (!endpoint || !*endpoint) {
      terminal.message("tendril scan: --distributed needs a Redis: " +
                       (endpoint
                            ? std::string("give --redis URL (or set PREFECT_REDIS_MESSAGING_URL)")
                            : endpoint.error()));
      return 2;
    }
    remote_redis = **endpoint;
  }
  auto remote_stats = std::make_shared<stream::RemoteStats>();
  auto pipe = [&]() -> Pipeline<FileDigest> {
    if (!remote_redis) return Pipeline(source) >> hash;
    auto to_item = work_pool({.buffer = 64, .name = "walk"}, [](std::string path) {
      std::error_code error;
      auto absolute = std::filesystem::absolute(path, error);
      return ScanItem{error ? path : absolute.string(), std::move(path)};
    });
    auto remote = stream::remote_stage<ScanItem, FileDigest>(
        {.endpoint = *remote_redis,
         .stage = kScanStage,
         .max_in_flight = options.max_in_flight,
         .items_per_entry = 4,  // files take a while: spread them over the workers
         .dead_letter = [&](const ScanItem& item,
                            const Error& error) { report(item.name, error.message); },
         .stats = remote_stats});
    return Pipeline(source) >> to_item >> remote;
  }();

  static char stdout_buffer[1 << 16];
  std::setvbuf(stdout, stdout_buffer, _IOFBF, sizeof stdout_buffer);

  const auto started = Clock::now();
  Result<Metrics> result;
  std::string write_error;       // why stdout failed, if it did
  std::vector<FileDigest> held;  // --sort: every digest, printed in order at the end
  {
    const TreeCount count(options, counters, terminal.shows_progress());
    ProgressLine progress(terminal, counters);
    auto digests = pipe.iter(256);
    {
      // cancel() reaches runs under way, so the hook goes in now that this one is.
      std::lock_guard lock(cancel_mutex);
      cancel = [&pipe] { pipe.cancel("interrupted"); };
      if (interrupted_early) cancel();
    }
    for (FileDigest& digest : digests) {
      const auto done = ++counters.hashed;
      counters.bytes += digest.bytes;
      const auto total = counters.counted
                             ? std::max(counters.found.load(), counters.total_files.load())
                             : counters.found.load();
      states.publish_step_details("sha256", "hashing", static_cast<long long>(total),
                                  static_cast<long long>(done + counters.errors), digest.path);
      if (options.sort) {
        held.push_back(std::move(digest));
        continue;
      }
      print_digest(digest);
      if (std::ferror(stdout) && write_error.empty()) {
        write_error = std::strerror(errno);  // nothing more can be written: stop hashing
        pipe.cancel("cannot write the digests");
      }
    }
    result = digests.result();
  }
  // Byte order of the names, as `LC_ALL=C sort -k2` would give: the same manifest every run.
  std::sort(held.begin(), held.end(),
            [](const FileDigest& a, const FileDigest& b) { return a.path < b.path; });
  for (const FileDigest& digest : held) {
    print_digest(digest);
    if (std::ferror(stdout)) break;
  }
  if ((std::fflush(stdout) != 0 || std::ferror(stdout)) && write_error.empty())
    write_error = std::strerror(errno);
  {
    std::lock_guard lock(cancel_mutex);
    cancel = nullptr;  // the pipeline is done; a late Ctrl-C must not reach it
  }

  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const bool interrupted =
      write_error.empty() && !result && result.error().kind == ErrorKind::cancelled;
  const std::string outcome = !write_error.empty() ? "cannot write the digests: " + write_error
                              : interrupted        ? "interrupted"
                              : !result            ? result.error().describe()
                              : counters.errors    ? "completed with errors"
                                                   : "completed";
  if (interrupted || !result || !write_error.empty()) {
    states.failed_tool(outcome);
  } else {
    states.completed_tool(
        fmt::format("{} files hashed, {} errors", counters.hashed.load(), counters.errors.load()));
  }
  // Every state is sent (or known lost) before the summary, so the summary can say which.
  const bool states_delivered = publisher.shutdown(std::chrono::seconds(5));
  const auto delivery = publisher.stats();
  const std::uint64_t lost = delivery.published - delivery.sent - delivery.superseded;
  const double rate = seconds > 0 ? double(counters.bytes.load()) / seconds : 0.0;
  if (options.json) {
    const state::OrderedJson summary{
        {"paths", options.operands},
        {"outcome", outcome},
        {"files_hashed", counters.hashed.load()},
        {"bytes", counters.bytes.load()},
        {"elapsed_seconds", seconds},
        {"bytes_per_second", rate},
        {"errors", counters.errors.load()},
        {"excluded", walk.excluded()},
        {"other_file_systems_skipped", walk.other_file_systems()},
        {"workers", options.distributed ? 0 : options.workers},
        {"distributed",
         {{"enabled", options.distributed},
          {"resent", remote_stats->resent},
          {"duplicates", remote_stats->duplicates},
          {"reconnects", remote_stats->reconnects}}},
        {"tool_states",
         {{"enabled", !options.states.none}, {"sent", delivery.sent}, {"lost", lost}}}};
    terminal.message(summary.dump());
  } else if (!options.quiet) {
    std::vector<std::pair<std::string, std::string>> rows{
        {options.operands.size() == 1 ? "path" : "paths", scanned},
        {"outcome", outcome},
        {"files hashed", grouped(counters.hashed.load())},
        {"bytes", human_bytes(double(counters.bytes.load()))},
        {"elapsed", fmt::format("{:.3f} s", seconds)},
        {"throughput", human_bytes(rate) + "/s"},
        {"errors", grouped(counters.errors.load())}};
    if (!options.walk.excludes.empty()) rows.emplace_back("excluded", grouped(walk.excluded()));
    if (options.walk.one_file_system)
      rows.emplace_back("other file systems",
                        fmt::format("{} not entered", walk.other_file_systems()));
    if (remote_redis) {
      rows.emplace_back(
          "workers", fmt::format("remote: group '{}' on {}", kScanStage, remote_redis->describe()));
      rows.emplace_back("sent again", fmt::format("{} (after {} reconnects)", remote_stats->resent,
                                                  remote_stats->reconnects));
      rows.emplace_back("duplicates",
                        fmt::format("{} (answered twice, dropped)", remote_stats->duplicates));
    } else {
      rows.emplace_back("workers", std::to_string(options.workers));
    }
    rows.emplace_back("tool states", options.states.none
                                         ? std::string("off (--no-state)")
                                         : fmt::format("{} sent, {} lost", delivery.sent, lost));
    terminal.message(key_value_table(rows));
  }
  if (options.stats) {
    if (auto metrics = pipe.last_metrics()) terminal.message(metrics->table());
  }
  if (!states_delivered)
    terminal.message(fmt::format("tendril scan: {} tool states were lost ({}): {}", lost,
                                 delivery.destination, delivery.last_error));
  if (!write_error.empty()) {
    terminal.message("tendril scan: cannot write the digests to stdout: " + write_error);
    return 1;
  }
  if (interrupted) return 130;
  if (!result || counters.errors) return 1;
  return states_delivered ? 0 : 3;
}

}  // namespace tendril::cli
