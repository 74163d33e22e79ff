// The tool-state publisher against the seed's "before" (one XADD per state), on a real
// redis-server this program starts on a free loopback port.
//
//   publisher_bench [states]
//
// 1. publish() latency from 1 and 2 threads: median, p99, p99.9 (each call timed with
//    steady_clock; the clock's own cost is measured and subtracted), over a fresh publisher's
//    first pass over its ring and then warm.
// 2. Sustained: `states` (built beforehand) published as fast as possible until all are in
//    Redis: states per second, Redis commands per flush, bytes per command.
// 3. The naive loop: one XADD per state, synchronously, as the seed README's "before".
// 2 and 3: the median and range of bench::runs() runs, taking turns.
#include <tendril/redis/connection.hpp>
#include <tendril/state/publisher.hpp>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "machine.hpp"
#include "support/redis_server.hpp"

namespace rd = tendril::redis;
namespace ts = tendril::state;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

ts::ToolState sample(long i) {
  ts::ToolState s;
  s.tool_name = "scan";
  s.state = "RUNNING";
  s.total_files = 1000000;
  s.processed_files = i;
  s.current_file_name = "/data/files/part-0042/file-" + std::to_string(i) + ".bin";
  return s;
}

double clock_cost_ns() {
  const auto start = Clock::now();
  for (int i = 0; i < 100000; ++i) (void)Clock::now();
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / 100000;
}

// Percentiles of one set of timings, as one line.
void print_latency(const char* what, int threads, std::vector<std::vector<double>>& timings,
                   std::uint64_t dropped) {
  std::vector<double> all;
  for (auto& t : timings) all.insert(all.end(), t.begin(), t.end());
  std::sort(all.begin(), all.end());
  auto at = [&](double q) {
    return std::max(0.0, all[static_cast<std::size_t>(q * (all.size() - 1))]);
  };
  std::printf(
      "  %d thread(s), %s, %zu calls: median %.0f ns, p99 %.0f ns, p99.9 %.0f ns  (dropped "
      "%llu)\n",
      threads, what, all.size(), at(0.5), at(0.99), at(0.999),
      static_cast<unsigned long long>(dropped));
}

// A fresh publisher: its first pass over the ring (each cell's first write; where the host
// backs a VM's memory lazily, a page's first write waits for it), then `per_thread` calls more
// from each thread, warm.
void latency(const rd::Endpoint& endpoint, int threads, long per_thread, double clock_ns) {
  constexpr long kRingCells = 1 << 16;
  ts::ToolStatePublisher publisher({.flush_interval = 10ms, .endpoint = endpoint});
  std::vector<std::vector<double>> fresh(threads), warm(threads);
  std::barrier between(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto timed = [&](std::vector<double>& into, long calls) {
        into.reserve(static_cast<std::size_t>(calls));
        for (long i = 0; i < calls; ++i) {
          if (i % 1024 == 0)  // stay within the ring, untimed, so no call takes the drop path
            while (publisher.stats().depth > 30000) std::this_thread::yield();
          ts::ToolState state = sample(i);  // made outside the timed call
          const auto start = Clock::now();
          publisher.publish(std::move(state));
          into.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() -
                         clock_ns);
        }
      };
      timed(fresh[t], kRingCells / threads);
      between.arrive_and_wait();
      timed(warm[t], per_thread);
    });
  for (auto& w : workers) w.join();
  publisher.shutdown();
  const std::uint64_t dropped = publisher.stats().dropped;
  print_latency("first pass over the ring", threads, fresh, dropped);
  print_latency("warm", threads, warm, dropped);
}

}  // namespace

int main(int argc, char** argv) {
  const long states = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  tendril::testing::RedisServer server;
  rd::Endpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.port = server.port();
  const double clock_ns = clock_cost_ns();
  bench::print_machine("Redis (redis-server) through hiredis; one XADD per state");
  std::printf(
      "redis-server on 127.0.0.1:%d; one state is %zu bytes of JSON; clock costs %.0f ns\n\n",
      server.port(), sample(123456).to_json().dump().size(), clock_ns);

  std::printf("1. publish() latency\n");
  latency(endpoint, 1, 200000, clock_ns);
  latency(endpoint, 2, 200000, clock_ns);

  // 2: a fresh publisher each run, fed states built before the clock starts.
  auto sustained = [&] {
    std::vector<ts::ToolState> prepared;
    prepared.reserve(static_cast<std::size_t>(states));
    for (long i = 0; i < states; ++i) prepared.push_back(sample(i));
    ts::ToolStatePublisher publisher(
        {.flush_interval = 10ms, .batch_size = 1000, .endpoint = endpoint});
    const auto start = Clock::now();
    for (long i = 0; i < states; ++i) {
      if (i % 1024 == 0)  // keep within the ring
        while (publisher.stats().depth > 50000) std::this_thread::yield();
      publisher.publish(std::move(prepared[static_cast<std::size_t>(i)]));
    }
    publisher.flush(60s);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const auto stats = publisher.stats();
    if (stats.dropped || !stats.last_error.empty())
      std::printf("  (a run dropped %llu: %s)\n", static_cast<unsigned long long>(stats.dropped),
                  stats.last_error.c_str());
    return double(stats.sent) / seconds;
  };
  // 3: one XADD per state, synchronously.
  const long naive_states = std::min(states, 20000L);
  auto connection = rd::Connection::open(endpoint);
  if (!connection) return 1;
  auto naive = [&] {
    const auto start = Clock::now();
    for (long i = 0; i < naive_states; ++i) {
      const ts::OrderedJson payload{{"schema", "PythonTool"},
                                    {"data", ts::OrderedJson::array({sample(i).to_json()})}};
      const ts::OrderedJson attributes{
          {"event_type", "tool"}, {"count", 1}, {"timestamp", ts::utc_timestamp()}};
      if (!connection->command(
              {"XADD", "naive", "*", "data", payload.dump(), "attributes", attributes.dump()}))
        std::exit(1);
    }
    (void)connection->command({"DEL", "naive"});
    return double(naive_states) / std::chrono::duration<double>(Clock::now() - start).count();
  };
  const auto figures = bench::interleaved(bench::runs(), {sustained, naive});
  std::printf("\n2. sustained, %ld states: %s states/s\n", states,
              bench::show(figures[0], 0).c_str());
  std::printf("3. naive, one XADD per state, %ld states: %s states/s\n", naive_states,
              bench::show(figures[1], 0).c_str());
  std::printf("\nbatched publisher / naive loop (medians): %.1fx\n",
              figures[0].median / figures[1].median);
  bench::record("publisher_sustained", "tendril publisher (batched)",
                "states per second (higher is better)", figures[0], true);
  bench::record("publisher_sustained", "one XADD per state", "states per second (higher is better)",
                figures[1], false);
  return 0;
}
