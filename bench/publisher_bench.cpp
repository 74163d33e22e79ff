// The tool-state publisher against the seed's "before" (one XADD per state), on a real
// redis-server this program starts on a free loopback port.
//
//   publisher_bench [states]
//
// 1. publish() latency from 1 and 2 threads: median, p99, p99.9 (each call timed with
//    steady_clock; the clock's own cost is measured and subtracted).
// 2. Sustained: `states` (built beforehand) published as fast as possible until all are in
//    Redis: states per second, Redis commands per flush, bytes per command.
// 3. The naive loop: one XADD per state, synchronously, as the seed README's "before".
#include <tendril/redis/connection.hpp>
#include <tendril/state/publisher.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

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

void latency(const rd::Endpoint& endpoint, int threads, long per_thread, double clock_ns) {
  ts::ToolStatePublisher publisher({.flush_interval = 10ms, .endpoint = endpoint});
  std::vector<std::vector<double>> timings(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto& mine = timings[t];
      mine.reserve(per_thread);
      for (long i = 0; i < per_thread; ++i) {
        if (i % 1024 == 0)  // stay within the ring, untimed, so no call takes the drop path
          while (publisher.stats().depth > 30000) std::this_thread::yield();
        ts::ToolState state = sample(i);  // made outside the timed call
        const auto start = Clock::now();
        publisher.publish(std::move(state));
        mine.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() -
                       clock_ns);
      }
    });
  for (auto& w : workers) w.join();
  publisher.shutdown();
  std::vector<double> all;
  for (auto& t : timings) all.insert(all.end(), t.begin(), t.end());
  std::sort(all.begin(), all.end());
  auto at = [&](double q) {
    return std::max(0.0, all[static_cast<std::size_t>(q * (all.size() - 1))]);
  };
  std::printf(
      "  %d thread(s), %ld calls: median %.0f ns, p99 %.0f ns, p99.9 %.0f ns  (dropped %llu)\n",
      threads, per_thread * threads, at(0.5), at(0.99), at(0.999),
      static_cast<unsigned long long>(publisher.stats().dropped));
}

}  // namespace

int main(int argc, char** argv) {
  const long states = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  tendril::testing::RedisServer server;
  rd::Endpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.port = server.port();
  const double clock_ns = clock_cost_ns();
  std::printf(
      "redis-server on 127.0.0.1:%d; one state is %zu bytes of JSON; clock costs %.0f ns\n\n",
      server.port(), sample(123456).to_json().dump().size(), clock_ns);

  std::printf("1. publish() latency\n");
  latency(endpoint, 1, 200000, clock_ns);
  latency(endpoint, 2, 200000, clock_ns);

  std::printf("\n2. sustained, %ld states\n", states);
  double ours = 0;
  {
    std::vector<ts::ToolState> prepared;  // built before the clock starts: we time the publisher
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
    ours = double(stats.sent) / seconds;
    std::printf(
        "  %llu states in %.3f s: %.0f states/s, %llu commands (%.0f states and %.0f KiB each), "
        "dropped %llu\n",
        static_cast<unsigned long long>(stats.sent), seconds, ours,
        static_cast<unsigned long long>(stats.batches), double(stats.sent) / double(stats.batches),
        double(stats.sent) / double(stats.batches) * double(sample(1).to_json().dump().size()) /
            1024,
        static_cast<unsigned long long>(stats.dropped));
    if (!stats.last_error.empty()) std::printf("  last error: %s\n", stats.last_error.c_str());
  }

  const long naive_states = std::min(states, 20000L);
  std::printf("\n3. naive: one XADD per state, %ld states\n", naive_states);
  auto connection = rd::Connection::open(endpoint);
  if (!connection) return 1;
  const auto start = Clock::now();
  for (long i = 0; i < naive_states; ++i) {
    const ts::OrderedJson payload{{"schema", "PythonTool"},
                                  {"data", ts::OrderedJson::array({sample(i).to_json()})}};
    const ts::OrderedJson attributes{
        {"event_type", "tool"}, {"count", 1}, {"timestamp", ts::utc_timestamp()}};
    if (!connection->command(
            {"XADD", "naive", "*", "data", payload.dump(), "attributes", attributes.dump()}))
      return 1;
  }
  const double naive =
      double(naive_states) / std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("  %.0f states/s\n\nbatched publisher / naive loop: %.1fx\n", naive, ours / naive);
  return 0;
}
