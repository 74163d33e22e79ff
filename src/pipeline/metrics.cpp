#include "tendril/pipeline/metrics.hpp"

#include <algorithm>
#include <cstdio>

namespace tendril {

std::string Metrics::table() const {
  std::size_t name_width = 5;
  bool processes = false;  // columns for process workers, when any crashed or was restarted
  for (const auto& s : stages) {
    name_width = std::max(name_width, s.name.size());
    processes = processes || s.worker_crashes > 0 || s.worker_restarts > 0;
  }
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-*s %7s %10s %8s %8s %10s %9s", int(name_width), "stage",
                "workers", "processed", "failed", "retried", "busy ms", "queue max");
  out += line;
  out += processes ? "  crashes restarts\n" : "\n";
  for (const auto& s : stages) {
    std::snprintf(
        line, sizeof line, "%-*s %7zu %10llu %8llu %8llu %10.1f %5zu/%-3zu", int(name_width),
        s.name.c_str(), s.workers, static_cast<unsigned long long>(s.processed),
        static_cast<unsigned long long>(s.failed), static_cast<unsigned long long>(s.retried),
        double(s.busy.count()) / 1e6, s.queue_high_water, s.queue_capacity);
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
