// cli/watch.hpp — `tendril watch`: a live view of tool runs.
//
// Reads tool states from the Redis stream (`--redis`, or PREFECT_REDIS_MESSAGING_*) or from
// the default sink's JSON-lines file, and shows one row per run: state, a progress bar, files,
// rate, when it last reported, current file. `--once` reads the whole history, prints the table
// and exits (1 when Redis cannot be read). Live, it starts from the stream's last 1000 entries,
// redraws every `interval` to the terminal's width, and rides out a Redis restart or stall
// (saying so under the table); Ctrl-C ends it cleanly (exit 0). Entries that are not a
// publisher's are skipped and counted.
#pragma once

#include <chrono>
#include <string>

#include "tool_states.hpp"

namespace tendril::cli {

struct WatchOptions {
  StateDestination from;
  std::string topic = "progress";
  bool once = false;
  std::chrono::milliseconds interval{500};
  std::chrono::seconds silent_after{60};  // a RUNNING run quiet this long shows as SILENT
};

int run_watch(const WatchOptions& options);

}  // namespace tendril::cli
