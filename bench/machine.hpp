// bench/machine.hpp — what every benchmark prints about the machine it ran on.
#pragma once

#include <fstream>
#include <string>

namespace bench {

// The CPU's model name from /proc/cpuinfo, or "unknown".
inline std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

}  // namespace bench
