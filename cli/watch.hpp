// cli/watch.hpp — `tendril watch`: a live view of tool runs.
//
// Reads tool states from the Redis stream (`--redis`, or PREFECT_REDIS_MESSAGING_*) or from
// the default sink's JSON-lines file, and shows one row per run: state, a progress bar, rate,
// current file. Redraws every `interval`; Ctrl-C ends it cleanly (exit 0). `--once` reads what
// is there, prints the table once and exits.
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
};

int run_watch(const WatchOptions& options);

}  // namespace tendril::cli
