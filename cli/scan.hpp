// cli/scan.hpp — `tendril scan PATH...`: SHA-256 of every file under the paths, as a Tendril
// pipeline.
//
// Prints lines that `sha256sum -c` accepts on stdout; errors, progress and the closing summary
// go to stderr. An entry that cannot be hashed is reported and counted, never fatal. Publishes
// a tool state per file (RUNNING, with total, processed and current file) and a last one
// (COMPLETED or FAILED) through the tool-state publisher.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tool_states.hpp"
#include "walk.hpp"

namespace tendril::cli {

struct ScanOptions {
  std::vector<std::string> operands;  // files and directories, in the order given
  WalkOptions walk;                   // --exclude, --one-file-system
  std::size_t workers = 2;
  bool progress = true;  // drawn only when stderr is a terminal
  bool sort = false;     // --sort: the lines in byte order of the names, at the end
  bool quiet = false;    // -q: no progress line and no summary; errors still said
  bool json = false;     // --json: the summary as one JSON object on stderr
  bool stats = false;    // also print the pipeline's per-stage metrics
  // --distributed: the hashing is done by `tendril worker`s of the scan group on the Redis of
  // `states` (which must name one); this process walks, sends and prints.
  bool distributed = false;
  std::size_t max_in_flight = 256;
  StateDestination states;  // where progress states are published
};

// Exit status: 0 all hashed; 1 some entries could not be hashed, the walk failed, or the digests
// could not be written (stdout full or closed: the scan stops); 3 all hashed but tool states were
// lost; 130 interrupted (the summary is still printed). --distributed with no Redis is exit 2.
int run_scan(const ScanOptions& options);

}  // namespace tendril::cli
