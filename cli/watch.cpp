#include "watch.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <tendril/redis/connection.hpp>
#include <tendril/state/reading.hpp>

#include "signals.hpp"
#include "terminal.hpp"

namespace tendril::cli {
namespace {

using state::ToolState;

// Seconds since the epoch of an ISO-8601 UTC timestamp as ToolState writes it; 0 if unreadable.
double epoch_seconds(const std::string& timestamp) {
  std::tm utc{};
  int micros = 0;
  if (std::sscanf(timestamp.c_str(), "%d-%d-%dT%d:%d:%d.%d", &utc.tm_year, &utc.tm_mon,
                  &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &micros) < 6)
    return 0;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return double(::timegm(&utc)) + micros / 1e6;
}

// What the view knows of one run.
struct RunView {
  ToolState first;
  ToolState last;
};

class Runs {
 public:
  void add(ToolState s) {
    const std::string key = s.flow_run_id.empty() ? s.tool_name : s.flow_run_id + " " + s.tool_name;
    auto [it, inserted] = runs_.try_emplace(key, RunView{s, s});
    if (!inserted) it->second.last = std::move(s);
  }

  std::string table() const {
    std::string out = fmt::format("{:<24} {:<10} {:<36} {:>10}  {}\n", "run", "state", "progress",
                                  "rate", "current file");
    for (const auto& [key, run] : runs_) {
      const ToolState& s = run.last;
      const double fraction =
          s.total_files > 0 ? double(s.processed_files) / double(s.total_files) : 0.0;
      const double seconds = epoch_seconds(s.timestamp) - epoch_seconds(run.first.timestamp);
      const double rate =
          seconds > 0 ? double(s.processed_files - run.first.processed_files) / seconds : 0.0;
      std::string file = s.current_file_name;
      if (file.size() > 40) file = "..." + file.substr(file.size() - 37);
      out +=
          fmt::format("{:<24} {:<10} {} {:>5}/{:<5} {:>8.0f}/s  {}\n", key.substr(0, 24), s.state,
                      progress_bar(fraction, 22), s.processed_files, s.total_files, rate, file);
    }
    if (runs_.empty()) out += "(no tool runs yet)\n";
    if (malformed_ > 0)
      out += fmt::format("({} malformed {} skipped)\n", malformed_,
                         malformed_ == 1 ? "entry" : "entries");
    return out;
  }
  void count_malformed(std::size_t n) { malformed_ += n; }

 private:
  std::map<std::string, RunView> runs_;
  std::size_t malformed_ = 0;
};

// Reads new states from the stream since the last call.
class StreamReader {
 public:
  StreamReader(redis::Connection connection, std::string topic)
      : connection_(std::move(connection)), topic_(std::move(topic)) {}
  std::expected<void, std::string> poll(Runs& runs) {
    auto reply = connection_.command({"XREAD", "COUNT", "1000", "STREAMS", topic_, last_id_});
    if (!reply) return std::unexpected(reply.error().message);
    auto batch = state::decode_xread(*reply);
    if (!batch) return std::unexpected("stream '" + topic_ + "': " + batch.error().message);
    if (!batch->last_id.empty()) last_id_ = batch->last_id;
    for (auto& s : batch->states) runs.add(std::move(s));
    runs.count_malformed(batch->malformed);
    return {};
  }

 private:
  redis::Connection connection_;
  std::string topic_;
  std::string last_id_ = "0";
};

// Reads new lines of the state file since the last call.
class FileReader {
 public:
  explicit FileReader(std::string path) : path_(std::move(path)) {}
  void poll(Runs& runs) {
    std::ifstream in(path_);
    in.seekg(offset_);
    for (std::string line; std::getline(in, line);) {
      if (in.eof()) break;  // a line still being written
      offset_ = in.tellg();
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (auto s = state::parse_tool_state(line))
        runs.add(std::move(*s));
      else
        runs.count_malformed(1);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::streamoff offset_ = 0;
};

}  // namespace

int run_watch(const WatchOptions& options) {
  auto endpoint = read_endpoint(options.from);
  if (!endpoint) {
    std::fprintf(stderr, "tendril watch: %s\n", endpoint.error().c_str());
    return 2;
  }
  std::optional<StreamReader> stream;
  std::optional<FileReader> file;
  std::string source;
  if (*endpoint) {
    auto connection = redis::Connection::open(**endpoint);
    if (!connection) {
      std::fprintf(stderr, "tendril watch: %s\n", connection.error().message.c_str());
      return 1;
    }
    source = (*endpoint)->describe() + " stream '" + options.topic + "'";
    stream.emplace(std::move(*connection), options.topic);
  } else {
    std::string path = options.from.state_file;
    if (path.empty()) {
      auto fallback = default_state_file();
      if (!fallback) {
        std::fprintf(stderr, "tendril watch: %s\n", fallback.error().c_str());
        return 1;
      }
      path = *fallback;
    }
    file.emplace(path);
    source = file->path();
  }

  std::atomic<bool> stop{false};
  SignalWatcher signals([&](int) { stop = true; });
  const bool live = !options.once && ::isatty(STDOUT_FILENO);
  Runs runs;
  for (;;) {
    if (stream) {
      if (auto polled = stream->poll(runs); !polled) {
        std::fprintf(stderr, "tendril watch: %s\n", polled.error().c_str());
        return 1;
      }
    } else {
      file->poll(runs);
    }
    std::string screen = fmt::format("tool runs from {}\n{}", source, runs.table());
    if (live) screen = "\x1b[H\x1b[2J" + screen;
    std::fputs(screen.c_str(), stdout);
    std::fflush(stdout);
    if (options.once) return 0;
    const auto until = std::chrono::steady_clock::now() + options.interval;
    while (!stop && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (stop) return 0;
  }
}

}  // namespace tendril::cli
