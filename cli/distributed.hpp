// cli/distributed.hpp — the scan across machines: `tendril worker` hashes what the scan group
// gives it; `tendril scan --distributed` is the coordinator (see scan.hpp).
//
// A scan item is the path to open (absolute: workers may run elsewhere on a shared file system)
// and the name to print (as the walk found it); a worker answers with the digest under that
// name. Both go as JSON (tendril::stream::JsonCodec).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "sha256.hpp"
#include "tool_states.hpp"

namespace tendril::cli {

// The remote stage and consumer group of distributed scans.
inline constexpr const char* kScanStage = "scan";

struct ScanItem {
  std::string path;  // to open
  std::string name;  // to print
};
void to_json(nlohmann::json& json, const ScanItem& item);
void from_json(const nlohmann::json& json, ScanItem& item);
void to_json(nlohmann::json& json, const FileDigest& digest);
void from_json(const nlohmann::json& json, FileDigest& digest);

struct WorkerCommandOptions {
  std::string redis_url;  // --redis (else PREFECT_REDIS_MESSAGING_*)
  std::size_t workers = 2;
  std::string stage = kScanStage;
  double min_idle_seconds = 5;  // --min-idle
  int max_deliveries = 3;
  bool quiet = false;
};

// Serves the scan group until SIGINT or SIGTERM, then prints a summary. Exit status: 0 stopped
// cleanly; 2 usage error, or Redis cannot be reached or refuses the login at the start.
int run_worker(const WorkerCommandOptions& options);

}  // namespace tendril::cli
