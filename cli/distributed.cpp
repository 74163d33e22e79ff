#include "distributed.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <tendril/stream/worker.hpp>

#include "signals.hpp"
#include "terminal.hpp"

namespace tendril::cli {

void to_json(nlohmann::json& json, const ScanItem& item) {
  json = {{"path", item.path}, {"name", item.name}};
}
void from_json(const nlohmann::json& json, ScanItem& item) {
  json.at("path").get_to(item.path);
  json.at("name").get_to(item.name);
}
void to_json(nlohmann::json& json, const FileDigest& digest) {
  json = {{"name", digest.path}, {"sha256", digest.hex}, {"bytes", digest.bytes}};
}
void from_json(const nlohmann::json& json, FileDigest& digest) {
  json.at("name").get_to(digest.path);
  json.at("sha256").get_to(digest.hex);
  json.at("bytes").get_to(digest.bytes);
}

int run_worker(const WorkerCommandOptions& options) {
  std::mutex mutex;
  std::condition_variable signalled;
  int signal_number = 0;  // guarded by mutex
  SignalWatcher signals([&](int number) {
    std::lock_guard lock(mutex);
    signal_number = number;
    signalled.notify_all();
  });
  StateDestination from;
  from.redis_url = options.redis_url;
  auto endpoint = read_endpoint(from);
  if (!endpoint) {
    std::fprintf(stderr, "tendril worker: %s\n", endpoint.error().c_str());
    return 2;
  }
  if (!*endpoint) {
    std::fputs(
        "tendril worker: no Redis to serve: give --redis URL (or set "
        "PREFECT_REDIS_MESSAGING_URL or _HOST)\n",
        stderr);
    return 2;
  }
  stream::StreamWorker worker = stream::stream_worker(
      {.endpoint = **endpoint,
       .stage = options.stage,
       .num_workers = options.workers,
       .min_idle = std::chrono::milliseconds(static_cast<long>(options.min_idle_seconds * 1000)),
       .max_deliveries = options.max_deliveries},
      [](ScanItem item, WorkerState& state) -> Result<FileDigest> {
        auto& hasher = state.get_or_create("hasher", [] { return std::make_unique<FileHasher>(); });
        auto digest = hasher->hash(item.path);
        if (digest) digest->path = std::move(item.name);
        return digest;
      });
  Result<stream::WorkerStats> outcome;
  bool returned = false;  // guarded by mutex: run() ended on its own (an error at the start)
  {
    std::jthread serving([&](std::stop_token stop) {
      auto ran = worker.run(stop);
      std::lock_guard lock(mutex);
      outcome = std::move(ran);
      returned = true;
      signalled.notify_all();
    });
    if (!options.quiet)
      std::fprintf(stderr, "tendril worker: serving '%s' on %s with %zu workers (Ctrl-C to stop)\n",
                   options.stage.c_str(), (*endpoint)->describe().c_str(), options.workers);
    std::unique_lock lock(mutex);
    signalled.wait(lock, [&] { return signal_number != 0 || returned; });
  }  // the jthread asks run() to stop and joins it
  if (!outcome) {
    std::fprintf(stderr, "tendril worker: %s\n", outcome.error().message.c_str());
    return 2;
  }
  if (!options.quiet) {
    const auto& s = *outcome;
    std::fputs(
        key_value_table(
            {{"stage", options.stage},
             {"outcome", signal_number ? "stopped by " + std::string(strsignal(signal_number))
                                       : std::string("stopped")},
             {"hashed", std::to_string(s.processed)},
             {"failed", std::to_string(s.failed)},
             {"claimed from others", std::to_string(s.claimed)},
             {"dead letters", std::to_string(s.dead_lettered)},
             {"dropped (cancelled runs)", std::to_string(s.dropped)},
             {"handed back", std::to_string(s.handed_back)},
             {"reconnects", std::to_string(s.reconnects)}})
            .c_str(),
        stderr);
  }
  return 0;
}

}  // namespace tendril::cli
