// cli/walk.hpp — the files under the paths given, one at a time, as a pipeline source.
//
// Yields every entry that is not a directory (regular files, links, FIFOs, sockets...), so that
// the hashing stage can report what it cannot hash. An operand that is not a directory is
// yielded as it is; a directory is entered, its links to directories are not followed (no
// loops). What the walk cannot read — an operand that does not exist, a directory it may not
// open — is passed to `on_error` and skipped. Not thread-safe: one thread calls next().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tendril::cli {

struct WalkOptions {
  // Entries to leave out, as shell patterns (fnmatch): a pattern with a '/' is matched against
  // the whole path, any other against the entry's name. An excluded directory is not entered.
  // Operands themselves are never excluded.
  std::vector<std::string> excludes;
  bool one_file_system = false;  // do not enter a directory on another file system than its operand
};

class FileWalk {
 public:
  using ErrorSink = std::function<void(const std::string& path, const std::string& message)>;
  FileWalk(std::vector<std::string> operands, WalkOptions options, ErrorSink on_error);

  // The next path, or nullopt when the walk is done.
  std::optional<std::string> next();

  std::uint64_t excluded() const noexcept { return excluded_; }
  std::uint64_t other_file_systems() const noexcept { return other_file_systems_; }

 private:
  bool start_operand(const std::string& operand);  // true: a directory, iterating it
  bool excluded(const std::filesystem::path& path) const;
  bool enterable(const std::filesystem::path& dir);

  std::vector<std::string> operands_;
  std::size_t next_operand_ = 0;
  WalkOptions options_;
  ErrorSink on_error_;
  std::filesystem::recursive_directory_iterator it_;  // the current operand's, or the end
  bool advance_ = false;                              // it_ is at an entry already yielded
  std::uint64_t device_ = 0;                          // the current operand's file system
  std::uint64_t excluded_ = 0;
  std::uint64_t other_file_systems_ = 0;
};

}  // namespace tendril::cli
