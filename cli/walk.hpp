// cli/walk.hpp — the files under a directory, one at a time, as a pipeline source.
//
// Yields every entry that is not a directory (regular files, links, FIFOs, sockets...), so
// that the hashing stage can report what it cannot hash. Directories are entered; links to
// directories are not followed (no loops). An entry the walk cannot read — a directory it may
// not open, among others — is passed to `on_error` and skipped. Not thread-safe: one pipeline
// source thread calls it.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace tendril::cli {

class FileWalk {
 public:
  using ErrorSink = std::function<void(const std::string& path, const std::string& message)>;
  FileWalk(const std::filesystem::path& root, ErrorSink on_error);

  // The next path, or nullopt when the walk is done.
  std::optional<std::string> next();

 private:
  bool readable_directory(const std::filesystem::path& dir);
  std::filesystem::recursive_directory_iterator it_;
  ErrorSink on_error_;
  bool started_ = false;
};

}  // namespace tendril::cli
