#include "tendril/pipeline/metrics.hpp"

#include <algorithm>
#include <cstdio>

namespace tendril {

std::string Metrics::table() const {
  std::size_t name_width = 5;
  for (const auto& s : stages) name_width = std::max(name_width, s.name.size());
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-*s %7s %10s %8s %8s %10s %9s\n", int(name_width), "stage",
                "workers", "processed", "failed", "retried", "busy ms", "queue max");
  out += line;
  for (const auto& s : stages) {
    std::snprintf(
        line, sizeof line, "%-*s %7zu %10llu %8llu %8llu %10.1f %5zu/%-3zu\n", int(name_width),
        s.name.c_str(), s.workers, static_cast<unsigned long long>(s.processed),
        static_cast<unsigned long long>(s.failed), static_cast<unsigned long long>(s.retried),
        double(s.busy.count()) / 1e6, s.queue_high_water, s.queue_capacity);
    out += line;
  }
  std::snprintf(line, sizeof line, "total: %llu produced, %llu processed, %llu failed in %.3f s\n",
                static_cast<unsigned long long>(produced),
                static_cast<unsigned long long>(processed), static_cast<unsigned long long>(failed),
                double(duration.count()) / 1e9);
  out += line;
  return out;
}

}  // namespace tendril
