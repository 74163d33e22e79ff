// src/state/sink_file.hpp — opening the default sink's file without being tricked. Internal.
#pragma once

#include <cstdio>
#include <string>

#include "tendril/core/error.hpp"

namespace tendril::state::detail {

// Opens `path` for appending (created 0600 when absent) only if it is a regular file or a
// character device (/dev/null) reached without following a symbolic link at its last step; a
// FIFO, a socket or a link is refused at once, never waited on. The error names the path and
// the reason.
Result<FILE*> open_sink_file(const std::string& path);

}  // namespace tendril::state::detail
