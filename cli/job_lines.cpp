#include "job_lines.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <tendril/flow/json_reader.hpp>

namespace tendril::cli {

std::expected<std::optional<Json>, std::string> read_job_line(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return std::nullopt;
  auto read = read_json(line, {.max_bytes = 1u << 20, .max_depth = 64});
  if (!read) {
    // The reader says "LINE:COLUMN: what"; its line is always 1.
    std::string what = read.error().message;
    if (what.starts_with("1:")) what.erase(0, 2);
    return std::unexpected(std::move(what));
  }
  if (!read->is_object()) return std::unexpected(std::string("not a JSON object"));
  return std::optional<Json>(std::move(*read));
}

}  // namespace tendril::cli

namespace tendril::cli {

LineReader::Status LineReader::next(std::string& line, std::chrono::milliseconds wait) {
  for (;;) {
    if (const auto newline = buffer_.find('\n'); newline != std::string::npos) {
      const bool skipped = skipping_;
      skipping_ = false;
      if (skipped) {
        buffer_.erase(0, newline + 1);
        return Status::too_long;
      }
      line.assign(buffer_, 0, newline);
      buffer_.erase(0, newline + 1);
      return Status::line;
    }
    if (buffer_.size() > max_line_) {  // no end in sight: drop it, keep looking for the end
      skipping_ = true;
      buffer_.clear();
    }
    if (ended_) {
      if (buffer_.empty() && !skipping_) return Status::end;
      const bool skipped = skipping_;
      skipping_ = false;
      line = std::move(buffer_);  // a last line without '\n'
      buffer_.clear();
      return skipped ? Status::too_long : Status::line;
    }
    pollfd ready{.fd = fd_, .events = POLLIN, .revents = 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(wait.count()));
    if (polled == 0) return Status::idle;
    if (polled < 0) {
      if (errno == EINTR) return Status::idle;
      error_ = errno;
      ended_ = true;
      continue;
    }
    char chunk[1 << 16];
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return Status::idle;
    if (n <= 0) {
      if (n < 0) error_ = errno;
      ended_ = true;
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace tendril::cli

namespace tendril::cli {

JobLines::Status JobLines::next(Json& job, std::chrono::milliseconds wait) {
  for (;;) {
    switch (input_.next(line_, wait)) {
      case LineReader::Status::idle:
        return Status::idle;
      case LineReader::Status::end:
        return Status::end;
      case LineReader::Status::too_long:
        std::fprintf(stderr, "stdin:%llu: longer than 1 MiB, skipped\n",
                     static_cast<unsigned long long>(++line_number_));
        ++bad_lines_;
        continue;
      case LineReader::Status::line:
        break;
    }
    ++line_number_;
    auto read = read_job_line(line_);
    if (read && !*read) continue;  // a blank line
    if (!read) {
      const std::string& what = read.error();
      std::fprintf(stderr, "stdin:%llu%s%s, skipped\n",
                   static_cast<unsigned long long>(line_number_),
                   what.front() >= '0' && what.front() <= '9' ? ":" : ": ", what.c_str());
      ++bad_lines_;
      continue;
    }
    job = std::move(**read);
    return Status::job;
  }
}

}  // namespace tendril::cli
