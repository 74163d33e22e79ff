#include "walk.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace tendril::cli {

namespace fs = std::filesystem;

FileWalk::FileWalk(std::vector<std::string> operands, WalkOptions options, ErrorSink on_error)
    : operands_(std::move(operands)),
      options_(std::move(options)),
      on_error_(std::move(on_error)) {}

bool FileWalk::excluded(const fs::path& path) const {
  for (const std::string& pattern : options_.excludes) {
    const bool whole = pattern.find('/') != std::string::npos;
    const std::string subject = whole ? path.string() : path.filename().string();
    if (::fnmatch(pattern.c_str(), subject.c_str(), 0) == 0) return true;
  }
  return false;
}

// The iterator would skip a directory it may not read without a word (skip_permission_denied
// keeps one such directory from ending the whole walk), so each one is tried first and reported,
// as find does. With one_file_system, a directory on another device is not entered either.
bool FileWalk::enterable(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return false;  // gone since it was listed: nothing to say
    on_error_(dir.string(), std::string("cannot read directory: ") + std::strerror(errno));
    return false;
  }
  struct stat info {};
  const bool same_device = ::fstat(fd, &info) != 0 || info.st_dev == device_;
  ::close(fd);
  if (options_.one_file_system && !same_device) {
    ++other_file_systems_;
    return false;
  }
  return true;
}

bool FileWalk::start_operand(const std::string& operand) {
  struct stat info {};
  if (::stat(operand.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) return false;
  device_ = info.st_dev;
  if (!enterable(operand)) return true;  // reported; nothing under it
  std::error_code error;
  it_ = fs::recursive_directory_iterator(operand, fs::directory_options::skip_permission_denied,
                                         error);
  if (error) on_error_(operand, error.message());
  advance_ = false;
  return true;
}

std::optional<std::string> FileWalk::next() {
  const fs::recursive_directory_iterator end;
  for (;;) {
    std::error_code error;
    if (advance_ && it_ != end) it_.increment(error);
    advance_ = true;
    for (; it_ != end; it_.increment(error)) {
      if (error) {
        on_error_(it_->path().string(), error.message());
        error.clear();
        continue;
      }
      const fs::directory_entry& entry = *it_;
      if (!options_.excludes.empty() && excluded(entry.path())) {
        ++excluded_;
        std::error_code type_error;
        if (entry.is_directory(type_error)) it_.disable_recursion_pending();
        continue;
      }
      std::error_code type_error;
      if (entry.is_directory(type_error)) {  // follows links: a link to a directory is skipped
        if (!entry.is_symlink(type_error) && !enterable(entry.path()))
          it_.disable_recursion_pending();
        continue;
      }
      return entry.path().string();
    }
    if (error) on_error_("", error.message());
    if (next_operand_ == operands_.size()) return std::nullopt;
    const std::string& operand = operands_[next_operand_++];
    // Anything but a directory goes to the hasher, which hashes it or says why it cannot
    // ("No such file or directory", "cannot hash a FIFO"), as sha256sum would.
    if (!start_operand(operand)) {
      advance_ = false;
      return operand;
    }
  }
}

}  // namespace tendril::cli
