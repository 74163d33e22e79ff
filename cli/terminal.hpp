// cli/terminal.hpp — what the CLI shows a person on stderr: messages, a live progress line,
// and tables.
//
// A Terminal serialises everything written to stderr, so that error messages from worker
// threads and the progress line never tear each other. All methods are thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tendril::cli {

class Terminal {
 public:
  // Progress is drawn only when stderr is a terminal and `allow_progress` is true.
  explicit Terminal(bool allow_progress);

  bool shows_progress() const noexcept { return progress_; }
  // A line for the user (an error, a warning): clears the progress line first, then redraws it.
  void message(std::string_view line);
  // Replaces the progress line (no newline). Ignored when progress is off.
  void progress(std::string_view line);
  // Removes the progress line for good.
  void clear_progress();

 private:
  std::mutex mutex_;
  bool progress_;
  std::string last_progress_;  // guarded by mutex_
};

// Flushes stdout; false, after saying "tendril COMMAND: cannot write to stdout: why" on stderr,
// when anything written to it was lost (a full disk, a closed pipe end, a bad descriptor).
bool stdout_written(std::string_view command);

// The columns of the terminal on `fd`; 80 when it is not a terminal.
int terminal_width(int fd);

// A two-column table: key, value, aligned, for closing summaries.
std::string key_value_table(const std::vector<std::pair<std::string, std::string>>& rows);

// A text progress bar of `width` cells for `fraction` in [0, 1].
std::string progress_bar(double fraction, int width);

// "1.5 GiB", "312.0 KiB": bytes for people.
std::string human_bytes(double bytes);

}  // namespace tendril::cli
