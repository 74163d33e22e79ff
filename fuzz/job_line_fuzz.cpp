// `flow run`'s line reader: any line is a blank, a JSON object, or an error that can be shown
// as "stdin:LINE:..." (non-empty). Nothing throws.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "job_lines.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto read = tendril::cli::read_job_line(line);
  if (!read) {
    if (read.error().empty()) std::abort();  // the message would print as "stdin:N: "
  } else if (*read && !(*read)->is_object()) {
    std::abort();
  }
  return 0;
}
