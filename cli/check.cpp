#include "check.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <ranges>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <tendril/pipeline.hpp>

#include "sha256.hpp"
#include "terminal.hpp"

namespace tendril::cli {
namespace {

struct Listed {
  std::string expected;  // 64 lowercase hex digits
  std::string name;      // unescaped
  std::string shown;     // as sha256sum -c shows it
};

struct Outcome {
  std::size_t index;
  std::optional<std::string> hex;  // the digest, or nullopt with `error`
  std::string error;
};

bool is_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

// One manifest line, or nullopt when it is not a checksum line.
std::optional<Listed> parse_line(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();  // a manifest written on Windows
  const bool escaped = !line.empty() && line.front() == '\\';
  std::string_view rest(line);
  if (escaped) rest.remove_prefix(1);
  if (rest.size() < 67 || !is_hex(rest.substr(0, 64)) || rest[64] != ' ' ||
      (rest[65] != ' ' && rest[65] != '*'))
    return std::nullopt;
  Listed out;
  for (char c : rest.substr(0, 64)) out.expected += static_cast<char>(std::tolower(c));
  const std::string_view raw = rest.substr(66);
  if (!escaped) {
    out.name = raw;
    out.shown = out.name;
    return out;
  }
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out.name += raw[i];
      continue;
    }
    if (++i == raw.size()) return std::nullopt;
    switch (raw[i]) {
      case '\\':
        out.name += '\\';
        break;
      case 'n':
        out.name += '\n';
        break;
      case 'r':
        out.name += '\r';
        break;
      default:
        return std::nullopt;
    }
  }
  // As sha256sum -c (coreutils 9.1) shows it: escaped (backslashes and CRs too) only when a
  // newline is in it.
  if (out.name.find('\n') == std::string::npos) {
    out.shown = out.name;
  } else {
    out.shown = "\\";
    for (char c : out.name)
      out.shown += c == '\\'   ? std::string("\\\\")
                   : c == '\n' ? std::string("\\n")
                   : c == '\r' ? std::string("\\r")
                               : std::string(1, c);
  }
  return out;
}

}  // namespace

int run_check(const CheckOptions& options) {
  std::ifstream file;
  if (options.manifest != "-") {
    file.open(options.manifest, std::ios::binary);
    if (!file) {
      fmt::print(stderr, "tendril scan: {}: {}\n", options.manifest, std::strerror(errno));
      return 1;
    }
  }
  std::istream& in = options.manifest == "-" ? std::cin : file;
  std::vector<Listed> listed;
  std::size_t improper = 0;
  for (std::string line; std::getline(in, line);) {
    if (auto entry = parse_line(line))
      listed.push_back(std::move(*entry));
    else
      ++improper;
  }
  const std::string manifest = options.manifest == "-" ? "standard input" : options.manifest;
  if (listed.empty()) {
    fmt::print(stderr, "tendril scan: {}: no properly formatted checksum lines found\n", manifest);
    return 1;
  }

  auto hash = work_pool(
      {.buffer = 4 * options.workers, .num_workers = options.workers, .name = "sha256"},
      [&listed](std::size_t index, WorkerState& state) {
        auto& hasher = state.get_or_create("hasher", [] { return std::make_unique<FileHasher>(); });
        auto digest = hasher->hash(listed[index].name, state.stop_token());
        if (!digest) return Outcome{index, std::nullopt, digest.error().message};
        return Outcome{index, std::move(digest->hex), {}};
      });
  auto pipe = Pipeline(std::views::iota(std::size_t{0}, listed.size())) >> hash;

  // Results come as workers finish; they are shown in the manifest's order.
  std::map<std::size_t, Outcome> waiting;
  std::size_t next = 0, mismatched = 0, unreadable = 0;
  const auto show = [&](const Outcome& outcome) {
    const Listed& entry = listed[outcome.index];
    if (!outcome.hex) {
      ++unreadable;
      if (!options.status) {
        fmt::print(stderr, "tendril scan: {}: {}\n", entry.shown, outcome.error);
        fmt::print("{}: FAILED open or read\n", entry.shown);
      }
    } else if (*outcome.hex != entry.expected) {
      ++mismatched;
      if (!options.status) fmt::print("{}: FAILED\n", entry.shown);
    } else if (!options.quiet && !options.status) {
      fmt::print("{}: OK\n", entry.shown);
    }
  };
  for (Outcome& outcome : pipe.iter(256)) {
    waiting.emplace(outcome.index, std::move(outcome));
    for (auto it = waiting.find(next); it != waiting.end(); it = waiting.find(next)) {
      show(it->second);
      waiting.erase(it);
      ++next;
    }
  }
  if (!stdout_written("scan --check")) return 1;
  if (!options.status) {
    const auto plural = [](std::size_t n, const char* one, const char* many) {
      return n == 1 ? one : many;
    };
    if (improper > 0)
      fmt::print(stderr, "tendril scan: WARNING: {} {} improperly formatted\n", improper,
                 plural(improper, "line is", "lines are"));
    if (unreadable > 0)
      fmt::print(stderr, "tendril scan: WARNING: {} listed {} could not be read\n", unreadable,
                 plural(unreadable, "file", "files"));
    if (mismatched > 0)
      fmt::print(stderr, "tendril scan: WARNING: {} computed {} did NOT match\n", mismatched,
                 plural(mismatched, "checksum", "checksums"));
  }
  const bool ok = mismatched == 0 && unreadable == 0 && (!options.strict || improper == 0);
  return ok ? 0 : 1;
}

}  // namespace tendril::cli
