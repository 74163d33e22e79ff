// bench/machine.hpp — what every benchmark prints about its machine, and how it reports a figure:
// the median and spread of several runs, the peer's beside ours, and a row for the pictures.
//
//   bench::print_machine("oneTBB 2021.8");   // machine, compiler, flags, peers, runs
//   auto figures = bench::interleaved(bench::runs(), {tendril_run, tbb_run});
//   bench::record("pipeline_trivial", "tendril", "ns/item", figures[0]);
//
// TENDRIL_BENCH_RUNS sets how many runs each figure takes (5 by default). With
// TENDRIL_BENCH_DATA=FILE, every recorded figure is also appended to FILE as a tab-separated
// row (chart, label, unit, median, low, high, runs, ours), which bench/plot.sh draws.
#pragma once

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#ifndef TENDRIL_BENCH_FLAGS
#define TENDRIL_BENCH_FLAGS "(unknown flags)"
#endif

namespace bench {

// The CPU's model name from /proc/cpuinfo, or "unknown".
inline std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// Runs per figure: TENDRIL_BENCH_RUNS, or `fallback`.
inline int runs(int fallback = 5) {
  const char* text = std::getenv("TENDRIL_BENCH_RUNS");
  const int n = text ? std::atoi(text) : 0;
  return n > 0 ? n : fallback;
}

// The machine line, the compiler line and the peers, before any figure.
inline void print_machine(const std::string& peers) {
  utsname host{};
  ::uname(&host);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::printf("machine: %s, %u hardware threads, %s %s; %s\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), host.sysname, host.release, date);
  std::printf("compiler: g++ %s; flags:%s\n", __VERSION__, TENDRIL_BENCH_FLAGS);
  std::printf("peers: %s; each figure: median [lowest-highest] of %d runs\n\n", peers.c_str(),
              runs());
}

// The median and the range of a figure's runs.
struct Spread {
  double median = 0, low = 0, high = 0;
  int runs = 0;
};

inline Spread spread_of(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  const double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return {median, values.front(), values.back(), static_cast<int>(n)};
}

// "87.0 [86.4-88.1]"
inline std::string show(const Spread& s, int decimals = 1) {
  char text[96];
  std::snprintf(text, sizeof text, "%.*f [%.*f-%.*f]", decimals, s.median, decimals, s.low,
                decimals, s.high);
  return text;
}

// Runs every body `n` times, taking turns (each round starts one later), so that a drift in
// the machine's speed touches every engine alike; one Spread per body, of what each returned.
inline std::vector<Spread> interleaved(int n, const std::vector<std::function<double()>>& bodies) {
  std::vector<std::vector<double>> values(bodies.size());
  for (int round = 0; round < n; ++round)
    for (std::size_t k = 0; k < bodies.size(); ++k) {
      const std::size_t i = (k + static_cast<std::size_t>(round)) % bodies.size();
      values[i].push_back(bodies[i]());
    }
  std::vector<Spread> out;
  for (auto& v : values) out.push_back(spread_of(std::move(v)));
  return out;
}

// Appends the figure to TENDRIL_BENCH_DATA's file, when it is set, for bench/plot.sh.
inline void record(const std::string& chart, const std::string& label, const std::string& unit,
                   const Spread& s, bool ours) {
  const char* path = std::getenv("TENDRIL_BENCH_DATA");
  if (!path || !*path) return;
  std::ofstream out(path, std::ios::app);
  out << chart << '\t' << label << '\t' << unit << '\t' << s.median << '\t' << s.low << '\t'
      << s.high << '\t' << s.runs << '\t' << (ours ? 1 : 0) << '\n';
}

}  // namespace bench
