// Tendril flows against a oneTBB flow graph on the same work, in the same run.
//
//   flow_bench [jobs] [slot capacity: the library's default, 1000]
//
// The work: a chain of three routines (TBB: three serial function_nodes) passing a JSON object;
// the first adds a field, the second another, the third sums into a counter; each routine's slot
// holds the library's default of 1,000 items (a second argument changes it). Measured at 1 and 2
// threads (TBB: max_allowed_parallelism 1 and 2, the calling thread counted):
// 1. throughput: `jobs` posted from one thread as fast as they are taken, then waited for;
//    jobs per second;
// 2. latency: one job at a time, from post (try_put) to the moment the last routine starts;
//    median and p99 over 2,000 jobs, after 200 to warm up. Each figure: the median and range of
//    bench::runs() runs, the engines taking turns.
// The engines:
// - tendril: that many pool threads; the posting thread only posts (a full slot: it yields and
//   posts again) and waits, so every job is handed to a pool thread;
// - tendril no trace/history: the same without a job trace and completion records;
// - tendril, the caller helping: help_while_waiting with one pool thread fewer (none at 1 thread),
//   posts waiting for room (the poster runs a full slot's routine) and the wait running what is
//   ready: the threads TBB has, used the way TBB uses them;
// - tbb flow graph: at 1 thread everything runs on the posting thread inside wait_for_all, at 2
//   also on TBB's one worker thread.
// Tendril does more per job than the peer: a JobContext with a trace, per-job completion
// tracking, the worker's execution history; the ratio says what that costs.
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/version.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <tendril/flow.hpp>
#include <thread>
#include <vector>

#include "machine.hpp"

namespace td = tendril;
using Clock = std::chrono::steady_clock;
using td::Json;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::atomic<long> total{0};
std::atomic<std::int64_t> last_arrival{0};  // when the last routine last started (ns)

Json step_a(Json j) {
  j["a"] = j["n"].get<long>() + 1;
  return j;
}
Json step_b(Json j) {
  j["b"] = j["a"].get<long>() * 2;
  return j;
}
void step_c(const Json& j) {
  last_arrival.store(now_ns(), std::memory_order_release);
  total.fetch_add(j["b"].get<long>(), std::memory_order_relaxed);
}

struct Figures {
  double jobs_per_s = 0;
  double p50_us = 0, p99_us = 0;
};

// Jobs per second of `post_all` (posting `jobs`, then waiting for them).
template <class PostAll>
double jobs_per_s(long jobs, PostAll&& post_all) {
  const auto start = Clock::now();
  post_all();
  return double(jobs) / std::chrono::duration<double>(Clock::now() - start).count();
}

// Median and p99 microseconds from `post_one(i)` to the last routine's start, one job at a
// time; `settle()` returns once the job is wholly done.
template <class PostOne, class Settle>
void measure_latency(Figures& f, PostOne&& post_one, Settle&& settle) {
  std::vector<double> us;
  for (int i = 0; i < 2200; ++i) {
    const std::int64_t before = last_arrival.load();
    const std::int64_t t0 = now_ns();
    post_one(i, before);
    settle();
    if (last_arrival.load() == before) std::abort();
    if (i >= 200) us.push_back(double(last_arrival.load() - t0) / 1000.0);
  }
  std::sort(us.begin(), us.end());
  f.p50_us = us[us.size() / 2];
  f.p99_us = us[us.size() * 99 / 100];
}

void await_arrival(std::int64_t before) {
  while (last_arrival.load(std::memory_order_acquire) == before) std::this_thread::yield();
}

// --- Tendril ---

std::size_t slot_capacity = td::SlotSpec{}.max_queue_length;  // each routine's one slot

std::unique_ptr<td::Routine> stage(std::function<Json(Json)> body, bool last) {
  auto r = std::make_unique<td::Routine>();
  td::Routine* self = r.get();
  r->add_slot("in", slot_capacity);
  if (!last) r->add_event("out");
  r->set_logic([self, body, last](td::SlotData& in, const Json&, td::FlowWorkerState&) {
    for (Json& item : in.items("in")) {  // moved along, as TBB's nodes move theirs
      if (last) {
        step_c(item);
      } else {
        self->emit("out", body(std::move(item)));
      }
    }
  });
  return r;
}

enum class Engine { plain, lean, helping, tbb };

Figures run_tendril(long jobs, std::size_t threads, Engine engine) {
  const bool lean = engine == Engine::lean, helping = engine == Engine::helping;
  td::FlowRegistry registry;
  td::Flow flow("chain");
  flow.add_routine(stage(step_a, false), "a");
  flow.add_routine(stage(step_b, false), "b");
  flow.add_routine(stage(nullptr, true), "c");
  flow.connect("a", "out", "b", "in");
  flow.connect("b", "out", "c", "in");
  registry.register_by_name("chain", flow);
  td::Runtime rt({.thread_pool_size = helping ? threads - 1 : threads,
                  .registry = &registry,
                  .trace_routines = !lean,
                  .record_completions = !lean,
                  .help_while_waiting = helping});
  if (!rt.exec("chain")) std::abort();
  const td::PostOptions room{.wait_for_room =
                                 helping ? std::chrono::minutes(1) : std::chrono::milliseconds(0)};

  Figures f;
  f.jobs_per_s = jobs_per_s(jobs, [&] {
    for (long i = 0; i < jobs; ++i)
      while (!rt.post("chain", "a", "in", {{"n", i}}, room)) {
        if (helping) std::abort();  // it waited a minute
        std::this_thread::yield();  // full: wait
      }
    if (!rt.wait_until_all_jobs_finished(std::chrono::minutes(5))) std::abort();
  });
  measure_latency(
      f,
      [&](int i, std::int64_t before) {
        if (!rt.post("chain", "a", "in", {{"n", i}})) std::abort();
        if (!helping) await_arrival(before);  // helping: the wait below may run it
      },
      [&] { rt.wait_until_all_jobs_finished(std::chrono::seconds(10)); });
  return f;
}

// --- oneTBB flow graph ---

Figures run_tbb(long jobs, int threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  namespace flow = tbb::flow;
  flow::graph g;
  flow::function_node<Json, Json> a(g, flow::serial, [](Json j) { return step_a(std::move(j)); });
  flow::function_node<Json, Json> b(g, flow::serial, [](Json j) { return step_b(std::move(j)); });
  flow::function_node<Json, flow::continue_msg> c(g, flow::serial, [](const Json& j) {
    step_c(j);
    return flow::continue_msg();
  });
  flow::make_edge(a, b);
  flow::make_edge(b, c);

  Figures f;
  f.jobs_per_s = jobs_per_s(jobs, [&] {
    for (long i = 0; i < jobs; ++i) a.try_put(Json{{"n", i}});
    g.wait_for_all();
  });
  measure_latency(
      f,
      [&](int i, std::int64_t before) {
        a.try_put(Json{{"n", i}});
        // At 2 threads a TBB worker takes it, as a pool thread does for Tendril; at 1, the
        // calling thread does all the work inside wait_for_all.
        if (threads > 1) await_arrival(before);
      },
      [&] { g.wait_for_all(); });
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const long jobs = argc > 1 ? std::atol(argv[1]) : 100'000;
  if (argc > 2) slot_capacity = static_cast<std::size_t>(std::atol(argv[2]));
  bench::print_machine("oneTBB " + std::to_string(TBB_VERSION_MAJOR) + "." +
                       std::to_string(TBB_VERSION_MINOR) + " flow graph");
  std::printf(
      "a 3-routine chain passing a JSON object, slots of %zu; %ld jobs for throughput, 2,000 "
      "single\njobs for latency (post to the last routine)\n\n",
      slot_capacity, jobs);
  std::printf("%-28s %26s %20s %20s\n", "engine", "jobs/s", "p50 (us)", "p99 (us)");
  std::fflush(stdout);
  const int runs = bench::runs();
  for (int threads : {1, 2}) {
    const std::string at = std::to_string(threads) + " thread" + (threads > 1 ? "s" : "");
    const std::vector<std::string> engines{"tendril, " + at, "tendril no trace/history, " + at,
                                           "tendril, the caller helping, " + at,
                                           "tbb flow graph, " + at};
    const int count = static_cast<int>(engines.size()), tbb = count - 1;
    // One run of each engine per round, each round starting one later.
    std::vector<std::vector<double>> rate(count), p50(count), p99(count);
    for (int round = 0; round < runs; ++round)
      for (int k = 0; k < count; ++k) {
        const int i = (k + round) % count;
        const Figures f =
            i == tbb ? run_tbb(jobs, threads)
                     : run_tendril(jobs, static_cast<std::size_t>(threads), static_cast<Engine>(i));
        rate[i].push_back(f.jobs_per_s);
        p50[i].push_back(f.p50_us);
        p99[i].push_back(f.p99_us);
      }
    std::vector<bench::Spread> r, l50, l99;
    for (int i = 0; i < count; ++i) {
      r.push_back(bench::spread_of(rate[i]));
      l50.push_back(bench::spread_of(p50[i]));
      l99.push_back(bench::spread_of(p99[i]));
      std::printf("%-28s %26s %20s %20s\n", engines[i].c_str(), bench::show(r[i], 0).c_str(),
                  bench::show(l50[i]).c_str(), bench::show(l99[i]).c_str());
      const bool ours = i != tbb;
      bench::record("flow_throughput", engines[i], "jobs per second (higher is better)", r[i],
                    ours);
      bench::record("flow_latency_p50", engines[i],
                    "post to last routine, p50 us (lower is better)", l50[i], ours);
    }
    std::printf(
        "  medians, tendril / tbb: throughput %.2fx (no trace/history %.2fx, the caller helping "
        "%.2fx), p50 latency %.2fx (the caller helping %.2fx)\n\n",
        r[0].median / r[tbb].median, r[1].median / r[tbb].median, r[2].median / r[tbb].median,
        l50[0].median / l50[tbb].median, l50[2].median / l50[tbb].median);
    std::fflush(stdout);
  }
  return total.load() > 0 ? 0 : 1;
}
