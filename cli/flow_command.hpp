// cli/flow_command.hpp — `tendril flow validate FILE` and `tendril flow graph FILE`.
#pragma once

#include <string>

namespace tendril::cli {

// Loads and validates a flow file (built-in routine types registered): prints a summary, then a
// table of issues. Exit status: 0 valid (warnings allowed), 1 not valid or not loadable.
int run_flow_validate(const std::string& file);

// Writes the flow as Graphviz DOT: to stdout, to `output` when it ends in .dot, or rendered by
// Graphviz's `dot` when it ends in .svg or .png. Exit status 0, or 1 with a message.
int run_flow_graph(const std::string& file, const std::string& output);

}  // namespace tendril::cli
