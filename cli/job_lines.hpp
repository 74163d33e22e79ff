// cli/job_lines.hpp — the lines `tendril flow run` reads: one job's data per line.
#pragma once

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
