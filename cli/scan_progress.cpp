#include "scan_progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "terminal.hpp"

namespace tendril::cli {

std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string clock_duration(double seconds) {
  const auto total = static_cast<long long>(std::max(0.0, std::ceil(seconds)));
  const long long h = total / 3600, m = total / 60 % 60, s = total % 60;
  return h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{}:{:02}", m, s);
}

namespace {

constexpr std::string_view kBar = "\x01";  // the bar's place among the fields

struct Field {
  std::string text;
  int keep;  // the higher, the later it is dropped
};

}  // namespace

std::string render_scan_progress(const ScanProgress& p, int width) {
  const int room = std::max(width - 1, 10);
  const double rate = p.seconds > 0 ? double(p.bytes_done) / p.seconds : 0.0;
  std::vector<Field> fields;
  const double fraction =
      p.bytes_total > 0   ? std::min(1.0, double(p.bytes_done) / double(p.bytes_total))
      : p.files_total > 0 ? std::min(1.0, double(p.files_done) / double(p.files_total))
                          : 1.0;
  if (p.total_known) {
    fields.push_back({std::string(kBar), 1});  // the bar: drawn in what room the others leave
    fields.push_back({fmt::format("{:3.0f}%", std::floor(fraction * 100)), 8});
    fields.push_back(
        {fmt::format("{}/{} files", grouped(p.files_done), grouped(p.files_total)), 9});
    if (p.bytes_total > 0)
      fields.push_back({fmt::format("{} / {}", human_bytes(double(p.bytes_done)),
                                    human_bytes(double(p.bytes_total))),
                        4});
    else
      fields.push_back({human_bytes(double(p.bytes_done)), 4});
    fields.push_back({human_bytes(rate) + "/s", 5});
    // By bytes when their total is known (a big file takes long), else by files.
    const double file_rate = p.seconds > 0 ? double(p.files_done) / p.seconds : 0.0;
    if (p.bytes_total > 0 && rate > 0)
      fields.push_back(
          {"ETA " +
               clock_duration(double(p.bytes_total - std::min(p.bytes_total, p.bytes_done)) / rate),
           7});
    else if (p.bytes_total == 0 && file_rate > 0)
      fields.push_back(
          {"ETA " + clock_duration(double(p.files_total - std::min(p.files_total, p.files_done)) /
                                   file_rate),
           7});
  } else {
    static constexpr char spinner[] = {'|', '/', '-', '\\'};
    fields.push_back({std::string(1, spinner[p.tick % 4]), 9});
    fields.push_back({grouped(p.files_done) + " files", 9});
    fields.push_back({human_bytes(double(p.bytes_done)), 4});
    fields.push_back({human_bytes(rate) + "/s", 5});
    fields.push_back({fmt::format("(counting: {} files, {})", grouped(p.files_total),
                                  human_bytes(double(p.bytes_total))),
                      2});
  }
  if (p.errors > 0)
    fields.push_back({fmt::format("{} error{}", grouped(p.errors), p.errors == 1 ? "" : "s"), 6});

  auto length = [&] {
    int n = 4;  // "scan"
    for (const Field& f : fields) n += 2 + (f.text == kBar ? 0 : static_cast<int>(f.text.size()));
    return n;
  };
  // Drop the least useful field while the line does not fit (the bar counts as empty here:
  // it takes what room is left, or goes).
  while (length() > room && fields.size() > 1) {
    auto least = std::min_element(fields.begin(), fields.end(),
                                  [](const Field& a, const Field& b) { return a.keep < b.keep; });
    fields.erase(least);
  }
  const int spare = room - length();
  std::string line = "scan";
  for (const Field& f : fields) {
    if (f.text == kBar) {
      if (spare < 8) continue;  // no room for a bar worth drawing
      line += "  " + progress_bar(fraction, std::min(30, spare - 2));
      continue;
    }
    line += "  " + f.text;
  }
  if (static_cast<int>(line.size()) > room) line.resize(static_cast<std::size_t>(room));
  return line;
}

}  // namespace tendril::cli
