#include "job_lines.hpp"

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
