// The soak: pipelines, flows and a tool-state publisher running together for a long time while
// the Redis they publish to is killed (SIGKILL) and restarted every 30 s. Checks that nothing is
// lost (every pipeline item and flow job accounted for, every published state in the stream)
// and that the process stays a good citizen (resident memory, open files and threads flat after
// the warm-up). Prints a sample every 10 s and a verdict; exit 0 only when everything held.
//   tendril_soak [SECONDS]   (default 600; scripts/soak.sh runs it under ASan and TSan)
#include <tendril/flow.hpp>
#include <tendril/redis/connection.hpp>
#include <tendril/state/publisher.hpp>
#include <tendril/state/reading.hpp>
#include <tendril/tendril.hpp>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_server.hpp"

namespace td = tendril;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Totals {
  std::atomic<std::uint64_t> pipeline_runs{0}, pipeline_items{0}, pipeline_lost{0};
  std::atomic<std::uint64_t> flow_runtimes{0}, flow_jobs{0}, flow_lost{0};
  std::atomic<std::uint64_t> states_published{0};
  std::atomic<std::uint64_t> redis_restarts{0};
};

// Pipelines, one after another: 20,000 items through a retried 4-worker pool (every 97th item
// fails its first attempt), a fork/merge pool and a 2-worker pool; each run must process every
// item exactly once and produce the exact sum.
void run_pipelines(const std::atomic<bool>& stop, Totals& totals) {
  constexpr long items = 20'000;
  while (!stop) {
    auto doubled = td::work_pool(
        {.buffer = 64, .retries = 2, .num_workers = 4}, [](long item, td::WorkerState& state) {
          auto& attempts = state.get_or_create("attempts", [] { return std::map<long, int>{}; });
          if (item % 97 == 0 && attempts[item]++ == 0)
            throw std::runtime_error("first attempt fails");
          if (item % 97 == 0) attempts.erase(item);
          return item * 2;
        });
    auto forked = td::mix_pool(
        {.buffer = 16, .fork_merge = [](std::vector<long> parts) { return parts[0] + parts[1]; }},
        [](long item, td::WorkerState&) { return item; },
        [](long item, td::WorkerState&) { return item + 1; });
    auto last = td::work_pool({.buffer = 16, .num_workers = 2},
                              [](long item, td::WorkerState&) { return item; });
    auto pipe = td::Pipeline(std::views::iota(0L, items)) >> doubled >> forked >> last;
    long sum = 0, count = 0;
    for (long item : pipe.iter()) {
      sum += item;
      ++count;
    }
    // sum over i of (2i + 2i + 1) = 4 * items(items-1)/2 + items
    const long expected = 2 * items * (items - 1) + items;
    if (count != items || sum != expected) {
      std::fprintf(stderr, "soak: pipeline run lost items: %ld of %ld, sum %ld not %ld\n", count,
                   items, sum, expected);
      totals.pipeline_lost += static_cast<std::uint64_t>(items - count) + (sum != expected);
    }
    totals.pipeline_items += static_cast<std::uint64_t>(count);
    ++totals.pipeline_runs;
  }
}

// Flow runtimes, one after another: each runs a two-routine flow (relay -> counter), posts
// 5,000 jobs through its bounded slots, shuts down waiting, and must have completed every one.
void run_flows(const std::atomic<bool>& stop, Totals& totals) {
  td::register_builtin_routines();
  const auto json = td::read_json(R"({
    "flow_id": "soak",
    "routines": {"intake": {"type": "tendril.Relay"},
                 "count": {"type": "tendril.Counter", "config": {"step": 1}}},
    "connections": [{"from": "intake", "event": "out", "to": "count", "slot": "in"}]})");
  auto flow = td::Flow::from_json(*json);
  if (!flow) throw std::runtime_error(flow.error().message);
  while (!stop) {
    std::atomic<std::uint64_t> completed{0};
    td::RuntimeHooks hooks;
    hooks.on_job_end = [&](const td::JobContext& job) {
      if (job.status() == td::JobStatus::completed) ++completed;
    };
    td::FlowRegistry registry;
    std::uint64_t posted = 0;
    {
      td::Runtime runtime({.thread_pool_size = 3, .registry = &registry, .hooks = hooks});
      if (!runtime.exec(*flow)) throw std::runtime_error("cannot start the soak flow");
      for (int i = 0; i < 5000 && !stop; ++i) {
        for (;;) {
          auto result = runtime.post("soak", "intake", "in", td::Json{{"n", i}});
          if (result) break;
          if (result.error().kind != td::ErrorKind::queue_full)
            throw std::runtime_error(result.error().message);
          std::this_thread::sleep_for(100us);
        }
        ++posted;
      }
      runtime.shutdown(true, 60s);
    }
    if (completed != posted) {
      std::fprintf(stderr, "soak: a flow runtime completed %llu of %llu jobs\n",
                   static_cast<unsigned long long>(completed.load()),
                   static_cast<unsigned long long>(posted));
      totals.flow_lost += posted - completed;
    }
    totals.flow_jobs += completed;
    ++totals.flow_runtimes;
  }
}

// A publisher thread: states numbered (thread, n), about 250 a second.
void publish_states(const std::atomic<bool>& stop, td::state::ToolStatePublisher& publisher,
                    int thread, std::uint64_t& published, Totals& totals) {
  while (!stop) {
    td::state::ToolState state;
    state.tool_name = "soak";
    state.processed_files = static_cast<long long>(published);
    state.extra = {{"thread", thread}, {"n", published}};
    publisher.publish(std::move(state));
    ++published;
    ++totals.states_published;
    std::this_thread::sleep_for(4ms);
  }
}

struct Sample {
  double seconds;
  long rss_kib;
  int fds;
  int threads;
};

long status_field(const char* name) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(name)) return std::atol(line.c_str() + std::string(name).size());
  return -1;
}

int open_fds() {
  int n = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) n += entry->d_name[0] != '.';
    ::closedir(dir);
  }
  return n - 1;  // the directory itself
}

Sample sample(Clock::time_point start) {
  return {std::chrono::duration<double>(Clock::now() - start).count(), status_field("VmRSS:"),
          open_fds(), static_cast<int>(status_field("Threads:"))};
}

// Every state each thread published, read back from the stream: the count of (thread, n) that
// are missing, and of those that arrived more than once.
std::pair<std::uint64_t, std::uint64_t> read_back(const td::redis::Endpoint& endpoint,
                                                  const std::vector<std::uint64_t>& published) {
  auto connection = td::redis::Connection::open(endpoint);
  if (!connection) throw std::runtime_error(connection.error().message);
  std::vector<std::vector<std::uint8_t>> seen(published.size());
  for (std::size_t t = 0; t < published.size(); ++t) seen[t].assign(published[t], 0);
  std::uint64_t duplicates = 0, malformed = 0;
  std::string from = "-";
  for (;;) {
    auto reply = connection->command({"XRANGE", "progress", from, "+", "COUNT", "2000"});
    if (!reply) throw std::runtime_error(reply.error().message);
    auto batch = td::state::decode_stream_entries(*reply);
    if (!batch) throw std::runtime_error(batch.error().message);
    malformed += batch->malformed;
    for (const auto& state : batch->states) {
      const auto t = state.extra.value("thread", -1);
      const auto n = state.extra.value("n", std::uint64_t{0});
      if (t < 0 || static_cast<std::size_t>(t) >= seen.size() || n >= seen[t].size()) continue;
      duplicates += seen[t][n]++ > 0;
    }
    if (batch->entries < 2000) break;
    from = "(" + batch->last_id;
  }
  std::uint64_t missing = malformed;
  int ranges_shown = 0;
  for (std::size_t t = 0; t < seen.size(); ++t) {
    for (std::size_t n = 0; n < seen[t].size(); ++n) {
      if (seen[t][n] != 0) continue;
      std::size_t end = n;
      while (end + 1 < seen[t].size() && seen[t][end + 1] == 0) ++end;
      missing += end - n + 1;
      if (ranges_shown++ < 8)
        std::fprintf(stderr, "soak: missing from the stream: thread %zu, states %zu-%zu\n", t, n,
                     end);
      n = end;
    }
  }
  if (malformed > 0)
    std::fprintf(stderr, "soak: %llu malformed entries or states in the stream\n",
                 static_cast<unsigned long long>(malformed));
  return {missing, duplicates};
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 600;
  if (seconds < 60) {
    std::fprintf(stderr, "usage: tendril_soak [SECONDS >= 60]\n");
    return 2;
  }
  td::testing::RedisServer redis({}, td::testing::RedisServer::Durability::fsync_always);
  Totals totals;
  std::atomic<bool> stop{false};
  const auto start = Clock::now();

  td::state::PublisherOptions options;
  options.endpoint = redis.endpoint();
  options.endpoint->timeout = 500ms;
  options.flush_interval = 100ms;
  options.use_environment = false;
  options.max_stream_length = 0;  // every state is read back at the end: no trimming
  options.max_stream_bytes = 0;
  td::state::ToolStatePublisher publisher(options);

  std::vector<std::uint64_t> published(2, 0);
  std::vector<std::thread> threads;
  threads.emplace_back(run_pipelines, std::cref(stop), std::ref(totals));
  threads.emplace_back(run_flows, std::cref(stop), std::ref(totals));
  for (int t = 0; t < 2; ++t)
    threads.emplace_back(publish_states, std::cref(stop), std::ref(publisher), t,
                         std::ref(published[t]), std::ref(totals));

  std::printf("%8s %10s %5s %8s %10s %12s %10s %10s %9s\n", "seconds", "RSS MiB", "fds", "threads",
              "pipelines", "items", "runtimes", "jobs", "states");
  std::vector<Sample> samples;
  auto next_kill = start + 30s, next_sample = start + 10s;
  const auto end = start + std::chrono::seconds(seconds);
  while (Clock::now() < end) {
    std::this_thread::sleep_for(50ms);
    if (Clock::now() >= next_kill) {
      redis.kill();  // a crash: the publisher keeps its backlog while Redis is away
      std::this_thread::sleep_for(2s);
      redis.restart();  // reloads the append-only file
      ++totals.redis_restarts;
      next_kill += 30s;
    }
    if (Clock::now() >= next_sample) {
      const Sample s = sample(start);
      samples.push_back(s);
      std::printf("%8.0f %10.1f %5d %8d %10llu %12llu %10llu %10llu %9llu\n", s.seconds,
                  s.rss_kib / 1024.0, s.fds, s.threads,
                  static_cast<unsigned long long>(totals.pipeline_runs.load()),
                  static_cast<unsigned long long>(totals.pipeline_items.load()),
                  static_cast<unsigned long long>(totals.flow_runtimes.load()),
                  static_cast<unsigned long long>(totals.flow_jobs.load()),
                  static_cast<unsigned long long>(totals.states_published.load()));
      std::fflush(stdout);
      next_sample += 10s;
    }
  }
  stop = true;
  for (auto& thread : threads) thread.join();
  const bool flushed = publisher.shutdown(60s);
  const auto stats = publisher.stats();
  const auto [missing, duplicates] = read_back(redis.endpoint(), published);

  // Flat: from the sample after the warm-up (a third of the run) to the last one, resident
  // memory grows by under 10% (+16 MiB of slack for allocator noise), open files by at most 2
  // (a reconnect in flight), and threads not at all... up to the pools' own churn (+4).
  const Sample& warm = samples[samples.size() / 3];
  const Sample& last = samples.back();
  const bool rss_flat = last.rss_kib <= warm.rss_kib * 11 / 10 + 16 * 1024;
  const bool fds_flat = last.fds <= warm.fds + 2;
  const bool threads_flat = last.threads <= warm.threads + 4;
  const bool nothing_lost = totals.pipeline_lost == 0 && totals.flow_lost == 0 && missing == 0 &&
                            stats.dropped == 0 && flushed;
  std::printf(
      "\nsoak: %d s, Redis killed and restarted %llu times\n"
      "  pipelines: %llu runs, %llu items, %llu lost\n"
      "  flows:     %llu runtimes, %llu jobs completed, %llu lost\n"
      "  states:    %llu published, %llu sent, %llu in the stream missing, %llu arrived twice "
      "(resent %llu), %llu dropped, %llu retries\n"
      "  RSS:       %.1f MiB at %.0f s -> %.1f MiB at %.0f s (%s)\n"
      "  fds:       %d -> %d (%s); threads: %d -> %d (%s)\n"
      "soak: %s\n",
      seconds, static_cast<unsigned long long>(totals.redis_restarts.load()),
      static_cast<unsigned long long>(totals.pipeline_runs.load()),
      static_cast<unsigned long long>(totals.pipeline_items.load()),
      static_cast<unsigned long long>(totals.pipeline_lost.load()),
      static_cast<unsigned long long>(totals.flow_runtimes.load()),
      static_cast<unsigned long long>(totals.flow_jobs.load()),
      static_cast<unsigned long long>(totals.flow_lost.load()),
      static_cast<unsigned long long>(stats.published), static_cast<unsigned long long>(stats.sent),
      static_cast<unsigned long long>(missing), static_cast<unsigned long long>(duplicates),
      static_cast<unsigned long long>(stats.resent), static_cast<unsigned long long>(stats.dropped),
      static_cast<unsigned long long>(stats.retries), warm.rss_kib / 1024.0, warm.seconds,
      last.rss_kib / 1024.0, last.seconds, rss_flat ? "flat" : "GREW", warm.fds, last.fds,
      fds_flat ? "flat" : "GREW", warm.threads, last.threads, threads_flat ? "flat" : "GREW",
      nothing_lost && rss_flat && fds_flat && threads_flat ? "PASSED" : "FAILED");
  return nothing_lost && rss_flat && fds_flat && threads_flat ? 0 : 1;
}
