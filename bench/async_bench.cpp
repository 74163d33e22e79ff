// Coroutine workers against thread workers on I/O-shaped work, in the same run.
//
//   async_bench [items]
//
// Every item waits 10 ms (a timer for coroutines, a sleep for threads). Coroutines: one stage
// with `items` workers, so every item is in flight at once. Threads: the same with 1,000 and
// with `items` thread workers. Reports wall time and the memory each in-flight item costs: the
// most the process ever had resident, minus what it had before the run, divided by the most
// items in flight at once; each run in a fresh child process. Each figure: the median and range
// of bench::runs() runs (3 for the 10,000-thread case), the kinds taking turns.
#include <tendril/task.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <ranges>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "machine.hpp"

namespace td = tendril;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A line of /proc/self/status, in KiB: "VmRSS" now, "VmHWM" the most ever resident.
long status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(line.find(':') + 1));
  return 0;
}

// Counts the items inside the handler and remembers the most at once.
struct PeakProbe {
  std::atomic<long> inside{0};
  std::atomic<long> peak{0};
  void enter() {
    const long now = ++inside;
    for (long seen = peak.load(); now > seen && !peak.compare_exchange_weak(seen, now);) {
    }
  }
  void leave() { --inside; }
};

struct Figures {
  double ms;
  double bytes_per_item;
  bool ok;
};

// Runs `items` through `stage`: wall time, and memory per item at the most in flight.
template <class Stage>
Figures run_and_measure(long items, const Stage& stage, const PeakProbe& probe, long kib_before) {
  const auto start = Clock::now();
  auto result = (td::Pipeline(std::views::iota(0L, items)) >> stage).run();
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return {ms, (status_kib("VmHWM") - kib_before) * 1024.0 / double(probe.peak),
          result && result->processed == static_cast<std::uint64_t>(items)};
}

Figures coroutines(long items) {
  PeakProbe probe;
  const long before = status_kib("VmRSS");
  auto wait = td::work_pool(
      {.buffer = static_cast<std::size_t>(items), .num_workers = static_cast<std::size_t>(items)},
      [&](long x, td::WorkerState&) -> td::Task<long> {
        probe.enter();
        co_await td::sleep_for(10ms);
        probe.leave();
        co_return x;
      });
  return run_and_measure(items, wait, probe, before);
}

Figures threads(long items, long workers) {
  PeakProbe probe;
  const long before = status_kib("VmRSS");
  auto wait = td::work_pool({.buffer = static_cast<std::size_t>(workers),
                             .num_workers = static_cast<std::size_t>(workers)},
                            [&](long x, td::WorkerState&) {
                              probe.enter();
                              std::this_thread::sleep_for(10ms);
                              probe.leave();
                              return x;
                            });
  return run_and_measure(items, wait, probe, before);
}

// Runs `measure` in a fresh child process, so that no earlier run's memory is counted or reused.
template <class F>
Figures in_child(F measure) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) std::abort();
  const pid_t child = ::fork();
  if (child == 0) {
    Figures f = measure();
    if (::write(pipe_fds[1], &f, sizeof f) != static_cast<ssize_t>(sizeof f)) std::_Exit(2);
    std::_Exit(0);
  }
  Figures f{0, 0, false};
  if (::read(pipe_fds[0], &f, sizeof f) != static_cast<ssize_t>(sizeof f)) f.ok = false;
  ::waitpid(child, nullptr, 0);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  return f;
}

// Runs every kind `runs` times, taking turns; prints and records each kind's time and memory.
void compare(int runs, const std::vector<std::string>& kinds,
             const std::vector<std::function<Figures()>>& measures) {
  std::vector<std::vector<double>> ms(kinds.size()), bytes(kinds.size());
  std::vector<bool> ok(kinds.size(), true);
  for (int round = 0; round < runs; ++round)
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      const std::size_t i = (k + static_cast<std::size_t>(round)) % kinds.size();
      const Figures f = in_child(measures[i]);
      ok[i] = ok[i] && f.ok;
      if (!f.ok) continue;
      ms[i].push_back(f.ms);
      bytes[i].push_back(f.bytes_per_item);
    }
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const auto time = bench::spread_of(ms[i]);
    const auto memory = bench::spread_of(bytes[i]);
    std::printf("  %-32s %24s ms %28s B %s\n", kinds[i].c_str(), bench::show(time).c_str(),
                bench::show(memory, 0).c_str(),
                ok[i] ? "" : "(FAILED: not every item was processed)");
    const bool ours = kinds[i].starts_with("coroutines");
    bench::record("async_wall_time", kinds[i], "ms for all items (lower is better)", time, ours);
    bench::record("async_memory", kinds[i], "bytes per in-flight item (lower is better)", memory,
                  ours);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long items = argc > 1 ? std::atol(argv[1]) : 10'000;
  bench::print_machine("thread workers of the same engine");
  std::printf("%ld items, each waiting 10 ms\n", items);
  std::printf("  %-32s %27s %30s\n", "workers", "wall time", "memory per in-flight item");
  const std::string all = std::to_string(items);
  compare(bench::runs(), {"coroutines, " + all + " in flight", "threads, 1,000 workers"},
          {[&] { return coroutines(items); }, [&] { return threads(items, 1000); }});
  compare(std::min(3, bench::runs()), {"threads, " + all + " workers"}, {[&] {
            try {
              return threads(items, items);
            } catch (const std::system_error&) {
              return Figures{0, 0, false};  // could not start that many threads
            }
          }});
  return 0;
}
