#include "run_table.hpp"

#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "terminal.hpp"

namespace tendril::cli {
namespace {

// "12 s", "5 min", "3 h", "2 d": how long ago, for people.
std::string age(double seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return fmt::format("{:.0f} s", seconds);
  if (seconds < 3600) return fmt::format("{:.0f} min", seconds / 60);
  if (seconds < 86400) return fmt::format("{:.0f} h", seconds / 3600);
  return fmt::format("{:.0f} d", seconds / 86400);
}

// `text` cut to `width` columns, keeping its end ("...c/d.txt"); at most `width` bytes.
std::string tail_fit(const std::string& text, std::size_t width) {
  if (text.size() <= width) return text;
  if (width <= 3) return text.substr(text.size() - width);
  std::size_t start = text.size() - (width - 3);
  while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
    ++start;  // not inside a UTF-8 sequence
  std::string out = "...";
  out.append(text, start);
  return out;
}

// Control characters (a newline, an escape sequence in a file name) shown as '?'.
std::string printable(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return text;
}

std::string head_fit(const std::string& text, std::size_t width) {
  if (text.size() <= width) return text;
  std::size_t end = width;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

double epoch_seconds(const std::string& timestamp) {
  std::tm utc{};
  int micros = 0;
  if (std::sscanf(timestamp.c_str(), "%d-%d-%dT%d:%d:%d.%d", &utc.tm_year, &utc.tm_mon,
                  &utc.tm_mday, &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &micros) < 6)
    return 0;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  return double(::timegm(&utc)) + micros / 1e6;
}

void RunTable::add(state::ToolState s) {
  const std::string key = s.run_key();
  if (const auto it = index_.find(key); it != index_.end()) {
    rows_[it->second].last = std::move(s);
    return;
  }
  const std::size_t seen = ++per_tool_[s.tool_name];
  std::string name = s.tool_name.empty() ? std::string("(unnamed)") : printable(s.tool_name);
  index_.emplace(key, rows_.size());
  rows_.push_back(Row{s, s, std::move(name), seen > 1 ? " #" + std::to_string(seen) : ""});
}

std::string RunTable::render(int width, double now, double silent_after) const {
  if (width < 64) width = 64;
  // run 14 | state 9 | progress 8+2 | files 11 | rate 8 | updated 7 | current file: the rest
  constexpr int run_w = 14, state_w = 9, bar_w = 8, files_w = 11, rate_w = 8, updated_w = 7;
  const int fixed = run_w + state_w + (bar_w + 2) + files_w + rate_w + updated_w + 6;
  const int file_w = width - fixed - 1;
  std::string out =
      fmt::format("{:<{}} {:<{}} {:<{}} {:>{}} {:>{}} {:>{}}", "run", run_w, "state", state_w,
                  "progress", bar_w + 2, "files", files_w, "rate", rate_w, "updated", updated_w);
  if (file_w >= 8) out += " current file";
  out += '\n';
  for (const Row& row : rows_) {
    const state::ToolState& s = row.last;
    const double fraction =
        s.total_files > 0 ? double(s.processed_files) / double(s.total_files) : 0.0;
    const double last_at = epoch_seconds(s.timestamp);
    const double seconds = last_at - epoch_seconds(row.first.timestamp);
    const double rate =
        seconds > 0 ? double(s.processed_files - row.first.processed_files) / seconds : 0.0;
    std::string shown_state = s.state;
    if ((s.state == "RUNNING" || s.state == "INFO") && last_at > 0 && now - last_at > silent_after)
      shown_state = "SILENT";
    std::string files = std::to_string(s.processed_files) + "/" + std::to_string(s.total_files);
    std::string line = fmt::format("{:<{}} {:<{}} {} {:>{}} {:>{}} {:>{}}",
                                   head_fit(row.name, run_w - row.suffix.size()) + row.suffix,
                                   run_w, head_fit(printable(shown_state), state_w), state_w,
                                   progress_bar(fraction, bar_w), tail_fit(files, files_w), files_w,
                                   fmt::format("{:.0f}/s", rate), rate_w,
                                   last_at > 0 ? age(now - last_at) : std::string("?"), updated_w);
    if (file_w >= 8 && !s.current_file_name.empty()) {
      line += ' ';
      line += tail_fit(printable(s.current_file_name), static_cast<std::size_t>(file_w));
    }
    out += line;
    out += '\n';
  }
  if (rows_.empty()) out += "(no tool runs yet)\n";
  if (malformed_ > 0)
    out += fmt::format("({} malformed {} skipped)\n", malformed_,
                       malformed_ == 1 ? "entry" : "entries");
  return out;
}

}  // namespace tendril::cli
