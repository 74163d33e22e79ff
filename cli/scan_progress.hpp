// cli/scan_progress.hpp — what `tendril scan`'s progress line says, fitted to a width.
//
// Until the count of what is to hash ends, a spinner with the files and bytes done and the
// rate; then a bar, the files done of the total, the bytes done of the total, the rate and an
// ETA. Bytes are in one unit system (IEC, as in the summary). Pure: tested without a terminal.
#pragma once

#include <cstdint>
#include <string>

namespace tendril::cli {

struct ScanProgress {
  std::uint64_t files_done = 0;  // hashed or reported
  std::uint64_t bytes_done = 0;
  std::uint64_t errors = 0;
  std::uint64_t files_total = 0;  // counted so far, or in all once total_known
  std::uint64_t bytes_total = 0;
  bool total_known = false;
  double seconds = 0;  // since the scan started
  unsigned tick = 0;   // turns the spinner
};

// The line, at most `width - 1` columns (the last column is left free, so that no terminal
// wraps); fields are dropped, least useful first, when it does not fit.
std::string render_scan_progress(const ScanProgress& progress, int width);

// 1234567 -> "1,234,567".
std::string grouped(std::uint64_t n);

// Seconds as "0:07", "12:34", "1:02:03".
std::string clock_duration(double seconds);

}  // namespace tendril::cli
