// A remote stage end to end against redis-benchmark's XADD on the same server, in one run.
//
//   stream_bench [items]            (default 200,000)
//
// Starts a redis-server on a free loopback port. Our figure: `items` integers through
// Pipeline(iota) >> remote_stage<uint64_t, uint64_t, BinaryCodec> to trivial stream workers
// (x + 1) in 1 and 2 worker processes (this program re-executed with --worker), counted from the
// first XADD to the last result; Redis commands per item from INFO's total_commands_processed.
// The peer: `redis-benchmark -P 16 -n items XADD key * f v` on the same server. The goal is
// 40% of the peer's rate.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ranges>
#include <string>
#include <tendril/redis/connection.hpp>
#include <tendril/stream/remote_stage.hpp>
#include <tendril/stream/worker.hpp>
#include <tendril/tendril.hpp>
#include <thread>
#include <vector>

#include "machine.hpp"
#include "support/redis_server.hpp"

namespace rd = tendril::redis;
namespace st = tendril::stream;
using Clock = std::chrono::steady_clock;

namespace {

volatile sig_atomic_t stop_worker = 0;

int serve(int port, const std::string& stage) {
  ::signal(SIGTERM, [](int) { stop_worker = 1; });
  rd::Endpoint endpoint = tendril::testing::at_port(port);
  auto worker = st::stream_worker<st::BinaryCodec>(
      {.endpoint = endpoint, .stage = stage, .num_workers = 1, .batch = 128},
      [](std::uint64_t x) { return x + 1; });
  std::jthread serving([&](std::stop_token stop) { (void)worker.run(stop); });
  while (!stop_worker) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return 0;
}

long long commands_processed(rd::Connection& connection) {
  auto info = connection.command({"INFO", "stats"});
  if (!info) return 0;
  const auto at = info->text.find("total_commands_processed:");
  return at == std::string::npos ? 0 : std::atoll(info->text.c_str() + at + 25);
}

struct Figure {
  double per_second = 0;
  double commands_per_item = 0;
  long long longest = 0;  // the work stream's most entries, sampled every millisecond
  long long left = 0;     // its entries once the run is over and trimmed
};

Figure ours(const char* self, tendril::testing::RedisServer& server, int processes,
            std::uint64_t items) {
  const std::string stage = "bench" + std::to_string(processes);
  std::vector<pid_t> workers;
  for (int i = 0; i < processes; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string port = std::to_string(server.port());
      ::execl(self, self, "--worker", port.c_str(), stage.c_str(), nullptr);
      ::_exit(127);
    }
    workers.push_back(pid);
  }
  auto admin = rd::Connection::open(server.endpoint());
  // Wait until every worker process has joined the group.
  for (int i = 0; i < 500; ++i) {
    auto consumers = admin->command({"XINFO", "CONSUMERS", "tendril:" + stage + ":work", stage});
    if (consumers && consumers->elements.size() >= static_cast<std::size_t>(processes)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto remote = st::remote_stage<std::uint64_t, std::uint64_t, st::BinaryCodec>(
      {.endpoint = server.endpoint(), .stage = stage, .max_in_flight = 4096, .buffer = 1024});
  auto pipe = tendril::Pipeline(std::views::iota(std::uint64_t{0}, items)) >> remote;
  const std::string work = "tendril:" + stage + ":work";
  std::atomic<bool> done{false};
  long long longest = 0, samples = 0;
  std::thread sampler([&] {
    auto probe = rd::Connection::open(server.endpoint());
    while (!done) {
      if (auto n = probe->command({"XLEN", work})) longest = std::max(longest, n->integer);
      ++samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  const long long before = commands_processed(*admin);
  const auto start = Clock::now();
  auto run = pipe.run();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const long long after = commands_processed(*admin);
  done = true;
  sampler.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a trim or two
  const long long left = admin->command({"XLEN", work})->integer;
  for (pid_t pid : workers) ::kill(pid, SIGTERM);
  for (pid_t pid : workers) ::waitpid(pid, nullptr, 0);
  if (!run || run->processed != items) {
    std::fprintf(stderr, "stream_bench: the run did not complete: %s\n",
                 run ? "items missing" : run.error().describe().c_str());
    std::exit(1);
  }
  // The sampler's XLENs are commands too, not the stage's.
  return {double(items) / seconds, double(after - before - samples) / double(items), longest, left};
}

double peer(int port, std::uint64_t items) {
  const std::string command = "redis-benchmark -p " + std::to_string(port) + " -P 16 -n " +
                              std::to_string(items) + " -q XADD bench:peer '*' f v 2>&1";
  FILE* out = ::popen(command.c_str(), "r");
  if (!out) return 0;
  char line[512];
  double rate = 0;
  while (std::fgets(line, sizeof line, out)) {
    const std::string text(line);
    const auto at = text.rfind(": ", text.find("requests per second"));
    if (text.find("requests per second") != std::string::npos && at != std::string::npos)
      rate = std::atof(text.c_str() + at + 2);
  }
  ::pclose(out);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--worker") return serve(std::atoi(argv[2]), argv[3]);
  const std::uint64_t items = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  tendril::testing::RedisServer server;
  bench::print_machine("redis-benchmark -P 16 XADD on the same redis-server (loopback)");
  // One run of each per round, taking turns; the stage's other figures from its last run.
  std::vector<double> peer_rates, rates[3];
  Figure last[3];
  for (int round = 0; round < bench::runs(); ++round)
    for (int k = 0; k < 3; ++k) {
      const int i = (k + round) % 3;
      if (i == 0) {
        peer_rates.push_back(peer(server.port(), items));
      } else {
        last[i] = ours(argv[0], server, i, items);
        rates[i].push_back(last[i].per_second);
      }
    }
  const auto xadd = bench::spread_of(peer_rates);
  std::printf("%-44s %28s /s\n", "redis-benchmark -P 16 XADD (the peer)",
              bench::show(xadd, 0).c_str());
  bench::record("stream_throughput", "redis-benchmark -P 16 XADD",
                "items per second (higher is better)", xadd, false);
  for (int processes : {1, 2}) {
    const auto rate = bench::spread_of(rates[processes]);
    const Figure& f = last[processes];
    const std::string what = std::string("remote stage, ") + std::to_string(processes) +
                             " worker process" + (processes > 1 ? "es" : "");
    std::printf(
        "%-44s %28s /s  %5.1f%% of the peer  %.3f Redis commands/item  work stream: at most "
        "%lld entries, %lld after\n",
        what.c_str(), bench::show(rate, 0).c_str(), 100 * rate.median / xadd.median,
        f.commands_per_item, f.longest, f.left);
    bench::record("stream_throughput", what, "items per second (higher is better)", rate, true);
  }
  return 0;
}
