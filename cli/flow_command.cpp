#include "flow_command.hpp"

#include <fmt/core.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <tendril/flow.hpp>

#include "terminal.hpp"

namespace tendril::cli {

namespace {

Result<Flow> load(const std::string& file) {
  register_builtin_routines();
  return Flow::load_file(file);
}

}  // namespace

int run_flow_validate(const std::string& file) {
  auto flow = load(file);
  if (!flow) {
    fmt::print(stderr, "tendril flow validate: {}\n", flow.error().message);
    return 1;
  }
  const auto issues = flow->validate();
  std::size_t errors = 0;
  for (const auto& issue : issues) errors += issue.severity == ValidationIssue::Severity::error;
  fmt::print("{}", key_value_table({
                       {"flow", flow->flow_id()},
                       {"routines", std::to_string(flow->routine_ids().size())},
                       {"connections", std::to_string(flow->connections().size())},
                       {"errors", std::to_string(errors)},
                       {"warnings", std::to_string(issues.size() - errors)},
                   }));
  if (!issues.empty()) {
    std::size_t width = 0;
    for (const auto& issue : issues) width = std::max(width, issue.where.size());
    fmt::print("\n");
    for (const auto& issue : issues)
      fmt::print("  {:<7}  {:<{}}  {}\n",
                 issue.severity == ValidationIssue::Severity::error ? "error" : "warning",
                 issue.where, width, issue.message);
  }
  fmt::print("\n{}: {}\n", file, errors ? "NOT valid" : "valid");
  return errors ? 1 : 0;
}

int run_flow_graph(const std::string& file, const std::string& output) {
  auto flow = load(file);
  if (!flow) {
    fmt::print(stderr, "tendril flow graph: {}\n", flow.error().message);
    return 1;
  }
  const std::string dot = flow->to_dot();
  if (output.empty() || output == "-") {
    fmt::print("{}", dot);
    return 0;
  }
  const auto ext =
      output.substr(output.rfind('.') == std::string::npos ? output.size() : output.rfind('.'));
  if (ext == ".dot" || ext == ".gv") {
    std::ofstream out(output);
    out << dot;
    if (!out) {
      fmt::print(stderr, "tendril flow graph: cannot write {}\n", output);
      return 1;
    }
    return 0;
  }
  if (ext != ".svg" && ext != ".png") {
    fmt::print(stderr, "tendril flow graph: {}: give a .dot, .svg or .png file\n", output);
    return 1;
  }
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    fmt::print(stderr,
               "tendril flow graph: Graphviz's `dot` is not installed, so {} cannot be drawn; "
               "install graphviz, or write DOT with -o FILE.dot\n",
               output);
    return 1;
  }
  // The output name goes to dot as one argument, quoted for the shell.
  std::string quoted = "'";
  for (char c : output) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  const std::string command = "dot -T" + ext.substr(1) + " -o " + quoted;
  FILE* pipe = popen(command.c_str(), "w");
  if (!pipe) {
    fmt::print(stderr, "tendril flow graph: cannot run dot\n");
    return 1;
  }
  std::fwrite(dot.data(), 1, dot.size(), pipe);
  const int status = pclose(pipe);
  if (status != 0) {
    fmt::print(stderr, "tendril flow graph: dot failed (exit {}) writing {}\n",
               WIFEXITED(status) ? WEXITSTATUS(status) : -1, output);
    return 1;
  }
  fmt::print(stderr, "wrote {}\n", output);
  return 0;
}

}  // namespace tendril::cli
