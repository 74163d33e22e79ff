// cli/scan.hpp — `tendril scan DIR`: SHA-256 of every file under DIR, as a Tendril pipeline.
//
// Prints lines that `sha256sum -c` accepts on stdout; errors, progress and the closing summary
// go to stderr. An entry that cannot be hashed is reported and counted, never fatal. Publishes
// a tool state per file (RUNNING, with total, processed and current file) and a last one
// (COMPLETED or FAILED) through the tool-state publisher.
#pragma once

#include <cstddef>
#include <string>

#include "tool_states.hpp"

namespace tendril::cli {

struct ScanOptions {
  std::string root;
  std::size_t workers = 2;
  bool progress = true;     // drawn only when stderr is a terminal
  bool stats = false;       // also print the pipeline's per-stage metrics
  StateDestination states;  // where progress states are published
};

// Exit status: 0 all hashed; 1 some entries could not be hashed, the walk failed, or the digests
// could not be written (stdout full or closed: the scan stops); 3 all hashed but tool states were
// lost; 130 interrupted (the summary is still printed).
int run_scan(const ScanOptions& options);

}  // namespace tendril::cli
