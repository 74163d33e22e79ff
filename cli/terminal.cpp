#include "terminal.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tendril::cli {

Terminal::Terminal(bool allow_progress) : progress_(allow_progress && ::isatty(STDERR_FILENO)) {}

void Terminal::message(std::string_view line) {
  std::lock_guard lock(mutex_);
  if (progress_ && !last_progress_.empty()) std::fputs("\r\x1b[K", stderr);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  if (progress_ && !last_progress_.empty()) std::fputs(last_progress_.c_str(), stderr);
  std::fflush(stderr);
}

void Terminal::progress(std::string_view line) {
  if (!progress_) return;
  std::lock_guard lock(mutex_);
  last_progress_ = line;
  std::fputs("\r\x1b[K", stderr);
  std::fputs(last_progress_.c_str(), stderr);
  std::fflush(stderr);
}

void Terminal::clear_progress() {
  if (!progress_) return;
  std::lock_guard lock(mutex_);
  if (!last_progress_.empty()) std::fputs("\r\x1b[K", stderr);
  last_progress_.clear();
  std::fflush(stderr);
}

int terminal_width(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

std::string key_value_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::size_t key_width = 0, value_width = 0;
  for (const auto& [key, value] : rows) {
    key_width = std::max(key_width, key.size());
    value_width = std::max(value_width, value.size());
  }
  const std::string rule =
      fmt::format("+-{}-+-{}-+\n", std::string(key_width, '-'), std::string(value_width, '-'));
  std::string out = rule;
  for (const auto& [key, value] : rows)
    out += fmt::format("| {:<{}} | {:>{}} |\n", key, key_width, value, value_width);
  return out + rule;
}

bool stdout_written(std::string_view command) {
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return true;
  const int why = errno;
  fmt::print(stderr, "tendril {}: cannot write to stdout: {}\n", command, std::strerror(why));
  return false;
}

std::string progress_bar(double fraction, int width) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int full = static_cast<int>(fraction * width + 0.5);
  std::string bar = "[";
  bar.append(full, '#');
  bar.append(width - full, '.');
  return bar + "]";
}

std::string human_bytes(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

}  // namespace tendril::cli
