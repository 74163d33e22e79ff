// Tendril pipelines against oneTBB on the same work, in the same run.
//
//   pipeline_bench [items]                  the comparison
//   pipeline_bench items --tendril-only     one Tendril run, for instruction counts:
//     valgrind --tool=callgrind pipeline_bench 200000 --tendril-only
//
// 1. A 3-stage pipeline with trivial bodies, ns per item: Tendril (one worker per stage),
//    tbb::parallel_pipeline and a TBB flow graph throttled by a limiter_node, TBB at 1 and 2
//    threads. 2. A CPU-bound stage at 1 and 2 workers. Each figure is the best of 3 runs.
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/version.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <ranges>
#include <string>
#include <tendril/tendril.hpp>
#include <thread>
#include <vector>

#include "machine.hpp"

namespace td = tendril;
using Clock = std::chrono::steady_clock;

namespace {

// Best of `runs` timings of `body`, in nanoseconds per item.
double best_ns_per_item(long items, const std::function<void()>& body, int runs = 3) {
  double best = 1e300;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    body();
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    best = std::min(best, ns / double(items));
  }
  return best;
}

std::atomic<long> sink{0};  // keeps the optimiser from removing the work

void tendril_trivial(long items, std::size_t buffer) {
  auto add = td::work_pool({.buffer = buffer}, [](long x, td::WorkerState&) { return x + 1; });
  auto twice = td::work_pool({.buffer = buffer}, [](long x, td::WorkerState&) { return x * 2; });
  long local = 0;
  auto sum = td::work_pool({.buffer = buffer}, [&local](long x, td::WorkerState&) {
    local += x;
    return x;
  });
  auto result = (td::Pipeline(std::views::iota(0L, items)) >> add >> twice >> sum).run();
  if (!result || result->processed != static_cast<std::uint64_t>(items)) std::abort();
  sink += local;
}

// TBB's first filter: 0, 1, ..., items - 1, in order.
auto counting_filter(long& next, long items) {
  return tbb::make_filter<void, long>(tbb::filter_mode::serial_in_order,
                                      [&next, items](tbb::flow_control& fc) -> long {
                                        if (next == items) fc.stop();
                                        return next++;
                                      });
}

void tbb_pipeline_trivial(long items, int threads) {
  tbb::task_arena arena(threads);
  arena.execute([&] {
    long next = 0, local = 0;
    tbb::parallel_pipeline(static_cast<std::size_t>(4 * threads),
                           counting_filter(next, items) &
                               tbb::make_filter<long, long>(tbb::filter_mode::serial_in_order,
                                                            [](long x) { return x + 1; }) &
                               tbb::make_filter<long, long>(tbb::filter_mode::serial_in_order,
                                                            [](long x) { return x * 2; }) &
                               tbb::make_filter<long, void>(tbb::filter_mode::serial_in_order,
                                                            [&](long x) { local += x; }));
    sink += local;
  });
}

void tbb_flow_graph_trivial(long items, int threads) {
  tbb::task_arena arena(threads);
  arena.execute([&] {
    namespace flow = tbb::flow;
    flow::graph g;
    long next = 0, local = 0;
    flow::input_node<long> source(g, [&](tbb::flow_control& fc) -> long {
      if (next == items) fc.stop();
      return next++;
    });
    flow::limiter_node<long> limiter(g, static_cast<std::size_t>(4 * threads));
    flow::function_node<long, long> add(g, flow::serial, [](long x) { return x + 1; });
    flow::function_node<long, long> twice(g, flow::serial, [](long x) { return x * 2; });
    flow::function_node<long, flow::continue_msg> sum(g, flow::serial, [&](long x) {
      local += x;
      return flow::continue_msg();
    });
    flow::make_edge(source, limiter);
    flow::make_edge(limiter, add);
    flow::make_edge(add, twice);
    flow::make_edge(twice, sum);
    flow::make_edge(sum, limiter.decrementer());
    source.activate();
    g.wait_for_all();
    sink += local;
  });
}

// 20,000 xorshift rounds (about 35 µs here) that the optimiser cannot skip.
long burn(long seed) {
  unsigned long x = static_cast<unsigned long>(seed) | 1;
  for (int i = 0; i < 20000; ++i) x ^= x << 13, x ^= x >> 7, x ^= x << 17;
  return static_cast<long>(x & 0xffff);
}

void tendril_cpu_bound(long items, std::size_t workers) {
  auto work = td::work_pool({.buffer = 2 * workers, .num_workers = workers},
                            [](long x, td::WorkerState&) { return burn(x); });
  auto result = (td::Pipeline(std::views::iota(0L, items)) >> work).run();
  if (!result || result->processed != static_cast<std::uint64_t>(items)) std::abort();
}

void tbb_cpu_bound(long items, int threads) {
  tbb::task_arena arena(threads);
  arena.execute([&] {
    long next = 0, local = 0;
    tbb::parallel_pipeline(static_cast<std::size_t>(4 * threads),
                           counting_filter(next, items) &
                               tbb::make_filter<long, long>(tbb::filter_mode::parallel,
                                                            [](long x) { return burn(x); }) &
                               tbb::make_filter<long, void>(tbb::filter_mode::serial_out_of_order,
                                                            [&](long x) { local += x; }));
    sink += local;
  });
}

}  // namespace

int main(int argc, char** argv) {
  const long items = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  if (argc > 2 && std::string(argv[2]) == "--tendril-only") {  // for callgrind: one run, no peers
    tendril_trivial(items, 64);
    return 0;
  }
  std::printf("machine: %s, %u hardware threads\n", bench::cpu_model().c_str(),
              std::thread::hardware_concurrency());
  std::printf("compiler: g++ %s; flags:%s\n", __VERSION__, TENDRIL_BENCH_FLAGS);
  std::printf("oneTBB %d.%d\n\n", TBB_VERSION_MAJOR, TBB_VERSION_MINOR);

  std::printf("1. three trivial stages, %ld items (ns per item, best of 3)\n", items);
  struct Row {
    std::string engine;
    double ns;
  };
  std::vector<Row> rows;
  for (int threads : {1, 2}) {
    rows.push_back({"tbb parallel_pipeline, " + std::to_string(threads) + " thread(s)",
                    best_ns_per_item(items, [&] { tbb_pipeline_trivial(items, threads); })});
    rows.push_back({"tbb flow graph + limiter_node, " + std::to_string(threads) + " thread(s)",
                    best_ns_per_item(items, [&] { tbb_flow_graph_trivial(items, threads); })});
  }
  for (std::size_t buffer : {1, 64, 1024})
    rows.push_back({"tendril, 1 worker per stage, buffer " + std::to_string(buffer),
                    best_ns_per_item(items, [&] { tendril_trivial(items, buffer); })});
  double tbb_pipeline_best = 1e300, tbb_graph_best = 1e300;
  for (const auto& r : rows) {
    if (r.engine.find("parallel_pipeline") != std::string::npos)
      tbb_pipeline_best = std::min(tbb_pipeline_best, r.ns);
    if (r.engine.find("flow graph") != std::string::npos)
      tbb_graph_best = std::min(tbb_graph_best, r.ns);
  }
  std::printf("  %-48s %10s %14s %14s\n", "engine", "ns/item", "vs tbb pipe", "vs tbb graph");
  for (const auto& r : rows)
    std::printf("  %-48s %10.1f %13.2fx %13.2fx\n", r.engine.c_str(), r.ns,
                tbb_pipeline_best / r.ns, tbb_graph_best / r.ns);
  std::printf("  (ratios above 1 mean faster than TBB's best thread count)\n\n");

  const long cpu_items = std::max(1000L, items / 100);
  std::printf(
      "2. one CPU-bound stage (20,000 xorshift rounds per item), %ld items (items per second)\n",
      cpu_items);
  const double t1 = best_ns_per_item(cpu_items, [&] { tendril_cpu_bound(cpu_items, 1); });
  const double t2 = best_ns_per_item(cpu_items, [&] { tendril_cpu_bound(cpu_items, 2); });
  const double b1 = best_ns_per_item(cpu_items, [&] { tbb_cpu_bound(cpu_items, 1); });
  const double b2 = best_ns_per_item(cpu_items, [&] { tbb_cpu_bound(cpu_items, 2); });
  const double plain = best_ns_per_item(cpu_items, [&] {
    long local = 0;
    for (long i = 0; i < cpu_items; ++i) local += burn(i);
    sink += local;
  });
  std::printf("  %-34s %12.0f /s\n", "tendril, 1 worker", 1e9 / t1);
  std::printf("  %-34s %12.0f /s   (%.2fx the 1-worker rate)\n", "tendril, 2 workers", 1e9 / t2,
              t1 / t2);
  std::printf("  %-34s %12.0f /s\n", "tbb parallel filter, 1 thread", 1e9 / b1);
  std::printf("  %-34s %12.0f /s   (%.2fx)\n", "tbb parallel filter, 2 threads", 1e9 / b2, b1 / b2);
  std::printf("  %-34s %12.0f /s   (no engine: the ceiling for one core)\n", "plain loop",
              1e9 / plain);
  std::printf("\nchecksum %ld\n", sink.load());
  return 0;
}
