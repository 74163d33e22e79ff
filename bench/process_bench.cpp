// Process workers (multi_proc) against thread workers on the same handlers, in one run.
//
//   process_bench [items]   (default 20,000)
//
// 1. Per-item overhead: a trivial handler (x + 1), 1 worker, threads vs processes.
// 2. CPU-bound scaling: a handler spinning ~0.6 ms of arithmetic, 1 and 2 workers, threads and
//    processes; the 2-worker rate over the 1-worker rate (goal for processes: >= 1.9x).
// 3. What a crash costs: every item crashes its worker (SIGSEGV), each then restarted.
// Each figure: the median and range of bench::runs() runs, threads and processes taking turns.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ranges>
#include <tendril/pipeline/process.hpp>
#include <tendril/tendril.hpp>
#include <thread>

#include "machine.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t spin(std::uint64_t x) {  // about 0.6 ms of arithmetic on the machine of RESULTS.md
  for (int i = 0; i < 400000; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

const auto trivial_process = tendril::process_handler<tendril::BinaryCodec>(
    "bench.trivial", [](std::uint64_t x) { return x + 1; });
const auto spin_process = tendril::process_handler<tendril::BinaryCodec>(
    "bench.spin", [](std::uint64_t x) { return spin(x); });
const auto crash_process =
    tendril::process_handler<tendril::BinaryCodec>("bench.crash", [](std::uint64_t x) {
      ::raise(SIGSEGV);
      return x;
    });

template <class Stage>
double rate(Stage stage, std::uint64_t items) {
  auto pipe = tendril::Pipeline(std::views::iota(std::uint64_t{0}, items)) >> stage;
  const auto start = Clock::now();
  auto run = pipe.run();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!run) {
    std::fprintf(stderr, "process_bench: %s\n", run.error().describe().c_str());
    std::exit(1);
  }
  return double(items) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  tendril::serve_process_worker_if_asked(argc, argv);
  const std::uint64_t items = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  bench::print_machine("thread workers of the same engine");
  const int runs = bench::runs();
  auto show = [](const char* what, const bench::Spread& rate, const char* chart, bool ours) {
    std::printf("  %-38s %30s items/s\n", what, bench::show(rate, 0).c_str());
    bench::record(chart, what, "items per second (higher is better)", rate, ours);
  };

  std::printf("1. trivial handler (x + 1), 1 worker, %llu items\n",
              static_cast<unsigned long long>(items));
  const auto trivial = bench::interleaved(
      runs,
      {[&] { return rate(tendril::work_pool([](std::uint64_t x) { return x + 1; }), items); },
       [&] { return rate(tendril::work_pool({.multi_proc = true}, trivial_process), items); }});
  show("threads", trivial[0], "process_trivial", false);
  show("processes", trivial[1], "process_trivial", true);
  std::printf("  processes cost %.1f us more per item (medians)\n\n",
              1e6 / trivial[1].median - 1e6 / trivial[0].median);

  const std::uint64_t heavy = std::max<std::uint64_t>(items / 10, 200);
  std::printf("2. CPU-bound handler (~0.6 ms/item), %llu items\n",
              static_cast<unsigned long long>(heavy));
  auto threads = [&](std::size_t workers) {
    return [&, workers] {
      return rate(tendril::work_pool({.buffer = 8, .num_workers = workers},
                                     [](std::uint64_t x) { return spin(x); }),
                  heavy);
    };
  };
  auto processes = [&](std::size_t workers) {
    return [&, workers] {
      return rate(tendril::work_pool({.buffer = 8, .num_workers = workers, .multi_proc = true},
                                     spin_process),
                  heavy);
    };
  };
  const auto cpu = bench::interleaved(runs, {threads(1), threads(2), processes(1), processes(2)});
  show("threads, 1 worker", cpu[0], "process_cpu_bound", false);
  show("threads, 2 workers", cpu[1], "process_cpu_bound", false);
  show("processes, 1 worker", cpu[2], "process_cpu_bound", true);
  show("processes, 2 workers", cpu[3], "process_cpu_bound", true);
  std::printf("  1 -> 2 workers (medians): threads %.2fx, processes %.2fx (goal >= 1.9x)\n\n",
              cpu[1].median / cpu[0].median, cpu[3].median / cpu[2].median);

  const std::uint64_t crashes = 200;
  const auto crash = bench::interleaved(
      runs, {[&] {
        return rate(tendril::work_pool({.on_error = tendril::OnError::drop, .multi_proc = true},
                                       crash_process),
                    crashes);
      }});
  std::printf("3. every item crashes its worker: %s items/s, %.2f ms per crash and restart\n",
              bench::show(crash[0], 0).c_str(), 1e3 / crash[0].median);
  bench::record("process_crash", "crash and restart", "ms each (lower is better)",
                {1e3 / crash[0].median, 1e3 / crash[0].high, 1e3 / crash[0].low, crash[0].runs},
                true);
  return 0;
}
