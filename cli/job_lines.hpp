// cli/job_lines.hpp — the lines `tendril flow run` reads: one job's data per line.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include <tendril/flow/json.hpp>

namespace tendril::cli {

// One input line: a JSON object (at most 1 MiB, 64 levels deep) is a job's data; a blank line
// is nullopt. Otherwise the error says why, as "COLUMN: what" when the column is known, e.g.
// "7: syntax error ..." or "not a JSON object".
std::expected<std::optional<Json>, std::string> read_job_line(std::string_view line);

}  // namespace tendril::cli

namespace tendril::cli {

// Reads lines from a file descriptor without blocking longer than asked, so a caller can stop
// on Ctrl-C or a deadline between lines. A line longer than `max_line` bytes is skipped whole
// (reported as too_long). Not thread-safe.
class LineReader {
 public:
  explicit LineReader(int fd, std::size_t max_line = std::size_t{1} << 20) noexcept
      : fd_(fd), max_line_(max_line) {}
  enum class Status {
    line,      // `line` holds the next line, without its '\n'
    too_long,  // a line over max_line was skipped
    idle,      // nothing complete within the wait
    end,       // the input ended (or failed: error() is its errno)
  };
  Status next(std::string& line, std::chrono::milliseconds wait);
  int error() const noexcept { return error_; }

 private:
  int fd_;
  std::size_t max_line_;
  std::string buffer_;
  bool skipping_ = false;  // inside a line that is too long
  bool ended_ = false;
  int error_ = 0;
};

// The jobs of a LineReader's lines, for `flow run` and `flow send`: each JSON object line is a
// job; blank lines are skipped; a bad or too long line is said on stderr
// ("stdin:LINE[:COLUMN]: why, skipped") and counted. Not thread-safe.
class JobLines {
 public:
  explicit JobLines(int fd) noexcept : input_(fd) {}
  enum class Status { job, idle, end };
  // Waits at most `wait` for the next job; `job` holds it when the status is job.
  Status next(Json& job, std::chrono::milliseconds wait);
  std::uint64_t bad_lines() const noexcept { return bad_lines_; }
  int error() const noexcept { return input_.error(); }  // errno of a failed read, or 0

 private:
  LineReader input_;
  std::string line_;
  std::uint64_t line_number_ = 0, bad_lines_ = 0;
};

}  // namespace tendril::cli
