// Tendril pipelines against oneTBB on the same work, in the same run.
//
//   pipeline_bench [items]                  the comparison
//   pipeline_bench items --tendril-only     one Tendril run, for instruction counts:
//     valgrind --tool=callgrind pipeline_bench 200000 --tendril-only
//
// 1. A 3-stage pipeline with trivial bodies, ns per item: Tendril (one worker per stage),
//    tbb::parallel_pipeline and a TBB flow graph throttled by a limiter_node, TBB at 1 and 2
//    threads. 2. A CPU-bound stage at 1 and 2 workers. Each figure: the median and range of
//    bench::runs() runs, the engines taking turns.
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

// Nanoseconds per item of one run of `body`.
double ns_per_item(long items, const std::function<void()>& body) {
  const auto start = Clock::now();
  body();
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / double(items);
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
[[gnu::noinline]] long burn(
    long seed) {  // called, never inlined: one item at a time, as in the engines
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
  bench::print_machine("oneTBB " + std::to_string(TBB_VERSION_MAJOR) + "." +
                       std::to_string(TBB_VERSION_MINOR));
  const int runs = bench::runs();

  std::printf("1. three trivial stages, %ld items (ns per item)\n", items);
  std::vector<std::string> engines;
  std::vector<std::function<double()>> bodies;
  for (int threads : {1, 2}) {
    engines.push_back("tbb parallel_pipeline, " + std::to_string(threads) + " thread(s)");
    bodies.push_back(
        [=] { return ns_per_item(items, [&] { tbb_pipeline_trivial(items, threads); }); });
    engines.push_back("tbb flow graph + limiter, " + std::to_string(threads) + " thread(s)");
    bodies.push_back(
        [=] { return ns_per_item(items, [&] { tbb_flow_graph_trivial(items, threads); }); });
  }
  for (std::size_t buffer : {1, 64, 1024}) {
    engines.push_back("tendril, 1 worker per stage, buffer " + std::to_string(buffer));
    bodies.push_back([=] { return ns_per_item(items, [&] { tendril_trivial(items, buffer); }); });
  }
  const auto figures = bench::interleaved(runs, bodies);
  double tbb_pipeline_best = 1e300, tbb_graph_best = 1e300;
  for (std::size_t i = 0; i < engines.size(); ++i) {
    if (engines[i].find("parallel_pipeline") != std::string::npos)
      tbb_pipeline_best = std::min(tbb_pipeline_best, figures[i].median);
    if (engines[i].find("flow graph") != std::string::npos)
      tbb_graph_best = std::min(tbb_graph_best, figures[i].median);
  }
  std::printf("  %-44s %24s %12s %12s\n", "engine", "ns/item", "vs tbb pipe", "vs tbb graph");
  for (std::size_t i = 0; i < engines.size(); ++i) {
    const bool ours = engines[i].starts_with("tendril");
    std::printf("  %-44s %24s %11.2fx %11.2fx\n", engines[i].c_str(),
                bench::show(figures[i]).c_str(), tbb_pipeline_best / figures[i].median,
                tbb_graph_best / figures[i].median);
    bench::record("pipeline_trivial", engines[i], "ns per item (lower is better)", figures[i],
                  ours);
  }
  std::printf("  (medians; ratios above 1 mean faster than TBB's best thread count)\n\n");

  const long cpu_items = std::max(1000L, items / 100);
  std::printf(
      "2. one CPU-bound stage (20,000 xorshift rounds per item), %ld items (items per second)\n",
      cpu_items);
  auto rate = [&](std::function<void()> body) {
    return [cpu_items, body] { return 1e9 / ns_per_item(cpu_items, body); };
  };
  const std::vector<std::string> cpu_engines{"tendril, 1 worker", "tendril, 2 workers",
                                             "tbb parallel filter, 1 thread",
                                             "tbb parallel filter, 2 threads", "plain loop"};
  const auto cpu = bench::interleaved(runs, {rate([&] { tendril_cpu_bound(cpu_items, 1); }),
                                             rate([&] { tendril_cpu_bound(cpu_items, 2); }),
                                             rate([&] { tbb_cpu_bound(cpu_items, 1); }),
                                             rate([&] { tbb_cpu_bound(cpu_items, 2); }), rate([&] {
                                               long local = 0;
                                               for (long i = 0; i < cpu_items; ++i)
                                                 local += burn(i);
                                               sink += local;
                                             })});
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    std::printf("  %-34s %26s /s", cpu_engines[i].c_str(), bench::show(cpu[i], 0).c_str());
    if (i == 1 || i == 3)
      std::printf("   (%.2fx the 1-worker rate)", cpu[i].median / cpu[i - 1].median);
    if (i == 4) std::printf("   (no engine: the ceiling for one core)");
    std::printf("\n");
    bench::record("pipeline_cpu_bound", cpu_engines[i], "items per second (higher is better)",
                  cpu[i], cpu_engines[i].starts_with("tendril"));
  }
  std::printf("\nchecksum %ld\n", sink.load());
  return 0;
}
