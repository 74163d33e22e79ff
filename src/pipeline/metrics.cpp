#include "tendril/pipeline/metrics.hpp"

#include "tendril/pipeline/detail/latency.hpp"

#include <algorithm>
#include <cstdio>

namespace tendril {

void detail::LatencyHistogram::fill(StageMetrics& m) const {
  std::uint64_t total = 0;
  for (const auto& count : counts_) total += count.load(std::memory_order_relaxed);
  const std::uint64_t most = max_.load(std::memory_order_relaxed);
  m.latency_samples = total;
  m.latency_max = std::chrono::nanoseconds(most);
  if (total == 0) return;
  // The value at rank ceil(p * total): the middle of its bucket, never above the maximum.
  auto at = [&](double p) {
    const auto rank =
        std::max<std::uint64_t>(1, static_cast<std::uint64_t>(p * double(total) + 0.999999));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      seen += counts_[b].load(std::memory_order_relaxed);
      if (seen >= rank)
        return std::chrono::nanoseconds(std::min(bucket_floor(b) + bucket_width(b) / 2, most));
    }
    return std::chrono::nanoseconds(most);
  };
  m.latency_p50 = at(0.50);
  m.latency_p99 = at(0.99);
}

namespace {

// "840 ns", "3.4 us", "12.5 ms", "1.20 s"; "-" when nothing was timed.
std::string short_duration(std::chrono::nanoseconds d, bool timed) {
  if (!timed) return "-";
  const double ns = double(d.count());
  char text[32];
  if (ns < 1e3)
    std::snprintf(text, sizeof text, "%.0f ns", ns);
  else if (ns < 1e6)
    std::snprintf(text, sizeof text, "%.1f us", ns / 1e3);
  else if (ns < 1e9)
    std::snprintf(text, sizeof text, "%.1f ms", ns / 1e6);
  else
    std::snprintf(text, sizeof text, "%.2f s", ns / 1e9);
  return text;
}

}  // namespace

std::string Metrics::table() const {
  std::size_t name_width = 5;
  bool processes = false;  // columns for process workers, when any crashed or was restarted
  for (const auto& s : stages) {
    name_width = std::max(name_width, s.name.size());
    processes = processes || s.worker_crashes > 0 || s.worker_restarts > 0;
  }
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-*s %7s %10s %8s %8s %10s %9s %9s %9s %9s", int(name_width),
                "stage", "workers", "processed", "failed", "retried", "busy ms", "queue max", "p50",
                "p99", "max");
  out += line;
  out += processes ? "  crashes restarts\n" : "\n";
  for (const auto& s : stages) {
    std::snprintf(
        line, sizeof line, "%-*s %7zu %10llu %8llu %8llu %10.1f %5zu/%-3zu", int(name_width),
        s.name.c_str(), s.workers, static_cast<unsigned long long>(s.processed),
        static_cast<unsigned long long>(s.failed), static_cast<unsigned long long>(s.retried),
        double(s.busy.count()) / 1e6, s.queue_high_water, s.queue_capacity);
    out += line;
    const bool timed = s.latency_samples > 0;
    std::snprintf(line, sizeof line, " %9s %9s %9s", short_duration(s.latency_p50, timed).c_str(),
                  short_duration(s.latency_p99, timed).c_str(),
                  short_duration(s.latency_max, timed).c_str());
    out += line;
    if (processes) {
      std::snprintf(line, sizeof line, "  %7llu %8llu",
                    static_cast<unsigned long long>(s.worker_crashes),
                    static_cast<unsigned long long>(s.worker_restarts));
      out += line;
    }
    out += '\n';
  }
  std::snprintf(line, sizeof line, "total: %llu produced, %llu processed, %llu failed in %.3f s\n",
                static_cast<unsigned long long>(produced),
                static_cast<unsigned long long>(processed), static_cast<unsigned long long>(failed),
                double(duration.count()) / 1e9);
  out += line;
  return out;
}

}  // namespace tendril
