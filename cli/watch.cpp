#include "watch.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <tendril/redis/connection.hpp>
#include <tendril/state/reading.hpp>
#include <tendril/stream/inspect.hpp>

#include "run_table.hpp"
#include "signals.hpp"
#include "terminal.hpp"

namespace tendril::cli {
namespace {

constexpr const char* kPage = "1000";  // entries per read

// Reads tool states from the stream: all of it (--once), or from the last kPage entries on
// (live), then what is new at each poll. Reconnects after a failure.
class StreamReader {
 public:
  StreamReader(redis::Endpoint endpoint, std::string topic)
      : endpoint_(std::move(endpoint)), topic_(std::move(topic)) {}

  // Reads everything from the start; the error says why it could not.
  std::expected<void, std::string> read_history(RunTable& runs) {
    for (;;) {
      auto reply = command({"XRANGE", topic_, first_ ? "-" : "(" + last_id_, "+", "COUNT", kPage});
      if (!reply) return std::unexpected(reply.error());
      first_ = false;
      auto read = take(*reply, runs, decode_entries);
      if (!read) return std::unexpected(read.error());
      if (*read < std::stoul(kPage)) return {};
    }
  }

  // New entries since the last call; the first call starts at the stream's last kPage entries.
  std::expected<void, std::string> poll(RunTable& runs) {
    if (first_) {
      auto reply = command({"XREVRANGE", topic_, "+", "-", "COUNT", kPage});
      if (!reply) return std::unexpected(reply.error());
      if (reply->type == redis::Reply::Type::array)
        std::reverse(reply->elements.begin(), reply->elements.end());
      auto read = take(*reply, runs, decode_entries);
      if (!read) return std::unexpected(read.error());
      first_ = false;
      if (last_id_.empty()) last_id_ = "0-0";
    }
    for (;;) {
      auto reply = command({"XREAD", "COUNT", kPage, "STREAMS", topic_, last_id_});
      if (!reply) return std::unexpected(reply.error());
      auto read = take(*reply, runs, state::decode_xread);
      if (!read) return std::unexpected(read.error());
      if (*read < std::stoul(kPage)) return {};
    }
  }

  // The remote stages' groups on this Redis, as a table; empty when there are none.
  std::string groups_table() {
    if (!connection_) return {};
    auto groups = stream::stage_groups(*connection_);
    if (!groups || groups->empty()) return {};
    std::string out =
        fmt::format("\nremote stages\n{:<16} {:<12} {:>10} {:>8} {:>8} {:>8} {:>6}\n", "stage",
                    "group", "consumers", "pending", "lag", "entries", "dead");
    for (const auto& g : *groups)
      out += fmt::format(
          "{:<16} {:<12} {:>10} {:>8} {:>8} {:>8} {:>6}\n", g.stage.substr(0, 16),
          g.group.substr(0, 12), fmt::format("{}/{}", g.active_consumers, g.consumers), g.pending,
          g.lag < 0 ? std::string("?") : std::to_string(g.lag), g.entries, g.dead_letters);
    return out;
  }

 private:
  static Result<state::StreamBatch> decode_entries(const redis::Reply& reply) {
    return state::decode_stream_entries(reply);
  }

  std::expected<redis::Reply, std::string> command(const std::vector<std::string>& args) {
    if (!connection_) {
      auto opened = redis::Connection::open(endpoint_);
      if (!opened) return std::unexpected(opened.error().message);
      connection_.emplace(std::move(*opened));
    }
    auto reply = connection_->command(args);
    if (!reply) {
      if (reply.error().kind == ErrorKind::connection) connection_.reset();  // reconnect next time
      return std::unexpected(reply.error().message);
    }
    return std::move(*reply);
  }

  // Adds what `reply` holds; returns how many entries it had.
  template <class Decode>
  std::expected<std::size_t, std::string> take(const redis::Reply& reply, RunTable& runs,
                                               Decode decode) {
    auto batch = decode(reply);
    if (!batch) return std::unexpected("stream '" + topic_ + "': " + batch.error().message);
    if (!batch->last_id.empty()) last_id_ = batch->last_id;
    for (auto& s : batch->states) runs.add(std::move(s));
    runs.count_malformed(batch->malformed);
    return batch->entries;
  }

  redis::Endpoint endpoint_;
  std::string topic_;
  std::optional<redis::Connection> connection_;
  std::string last_id_;
  bool first_ = true;
};

// Reads the state file's new complete lines at each poll; starts over when the file shrank
// (rotated or truncated).
class FileReader {
 public:
  explicit FileReader(std::string path) : path_(std::move(path)) {}
  // False when the file does not exist (yet).
  bool poll(RunTable& runs) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return false;
    in.seekg(0, std::ios::end);
    if (in.tellg() < offset_) offset_ = 0;
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
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::streamoff offset_ = 0;
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

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
    source = (*endpoint)->describe() + " stream '" + options.topic + "'";
    stream.emplace(**endpoint, options.topic);
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
  RunTable runs;
  for (bool first = true;; first = false) {
    std::string trouble;
    if (stream) {
      auto read = options.once ? stream->read_history(runs) : stream->poll(runs);
      if (!read) {
        if (options.once) {
          std::fprintf(stderr, "tendril watch: %s\n", read.error().c_str());
          return 1;
        }
        trouble = read.error() + "; retrying";
      }
    } else if (!file->poll(runs) && first) {
      trouble = "no state file yet";
    }
    std::string screen = fmt::format("tool runs from {}\n{}", source,
                                     runs.render(live ? terminal_width(STDOUT_FILENO) : 80,
                                                 now_seconds(), options.silent_after.count()));
    if (stream && trouble.empty()) screen += stream->groups_table();
    if (!trouble.empty()) screen += "(" + trouble + ")\n";
    if (live) screen = "\x1b[H\x1b[2J" + screen;
    if (std::fputs(screen.c_str(), stdout) < 0 || std::fflush(stdout) != 0) {
      std::fprintf(stderr, "tendril watch: cannot write the table: %s\n", std::strerror(errno));
      return 1;
    }
    if (options.once) return 0;
    const auto until = std::chrono::steady_clock::now() + options.interval;
    while (!stop && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (stop) return 0;
  }
}

}  // namespace tendril::cli
