// Process workers (multi_proc) against thread workers on the same handlers, in one run.
//
//   process_bench [items]   (default 20,000)
//
// 1. Per-item overhead: a trivial handler (x + 1), 1 worker, threads vs processes.
// 2. CPU-bound scaling: a handler spinning ~0.6 ms of arithmetic, 1 and 2 workers, threads and
//    processes; the 2-worker rate over the 1-worker rate (goal for processes: >= 1.9x).
// 3. What a crash costs: every item crashes its worker (SIGSEGV), each then restarted.
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
  std::printf("machine: %s, %u hardware threads\n", bench::cpu_model().c_str(),
              std::thread::hardware_concurrency());

  const double trivial_threads =
      rate(tendril::work_pool([](std::uint64_t x) { return x + 1; }), items);
  const double trivial_processes =
      rate(tendril::work_pool({.multi_proc = true}, trivial_process), items);
  std::printf(
      "trivial handler, 1 worker: threads %.0f items/s (%.2f us/item), processes %.0f "
      "items/s (%.2f us/item): %.1f us more per item\n",
      trivial_threads, 1e6 / trivial_threads, trivial_processes, 1e6 / trivial_processes,
      1e6 / trivial_processes - 1e6 / trivial_threads);

  const std::uint64_t heavy = std::max<std::uint64_t>(items / 10, 200);
  double threads[3] = {}, processes[3] = {};
  for (std::size_t workers : {1u, 2u}) {
    threads[workers] = rate(tendril::work_pool({.buffer = 8, .num_workers = workers},
                                               [](std::uint64_t x) { return spin(x); }),
                            heavy);
    processes[workers] = rate(
        tendril::work_pool({.buffer = 8, .num_workers = workers, .multi_proc = true}, spin_process),
        heavy);
  }
  std::printf(
      "CPU-bound (~0.6 ms/item), %llu items: threads 1 -> 2 workers %.0f -> %.0f items/s "
      "(%.2fx); processes %.0f -> %.0f items/s (%.2fx)\n",
      static_cast<unsigned long long>(heavy), threads[1], threads[2], threads[2] / threads[1],
      processes[1], processes[2], processes[2] / processes[1]);

  const std::uint64_t crashes = 200;
  const double crash_rate = rate(
      tendril::work_pool({.on_error = tendril::OnError::drop, .multi_proc = true}, crash_process),
      crashes);
  std::printf("every item crashes its worker: %.0f items/s, %.2f ms per crash and restart\n",
              crash_rate, 1e3 / crash_rate);
  return 0;
}
