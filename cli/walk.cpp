#include "walk.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace tendril::cli {

namespace fs = std::filesystem;

FileWalk::FileWalk(const fs::path& root, ErrorSink on_error) : on_error_(std::move(on_error)) {
  std::error_code error;
  it_ =
      fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, error);
  if (error) on_error_(root.string(), error.message());
}

// The iterator skips a directory it may not read without a word (skip_permission_denied keeps
// one such directory from ending the whole walk), so each one is tried first and reported.
bool FileWalk::readable_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (errno == ENOENT) return true;  // gone since it was listed: nothing to say
  on_error_(dir.string(), std::string("cannot read directory: ") + std::strerror(errno));
  return false;
}

std::optional<std::string> FileWalk::next() {
  const fs::recursive_directory_iterator end;
  std::error_code error;
  if (started_ && it_ != end) it_.increment(error);
  started_ = true;
  for (; it_ != end; it_.increment(error)) {
    if (error) {
      on_error_(it_->path().string(), error.message());
      error.clear();
      continue;
    }
    const fs::directory_entry& entry = *it_;
    std::error_code type_error;
    if (entry.is_directory(type_error)) {  // follows links: a link to a directory is skipped
      if (!entry.is_symlink(type_error) && !readable_directory(entry.path())) {
        it_.disable_recursion_pending();  // reported, as find does, and not entered
      }
      continue;
    }
    return entry.path().string();
  }
  if (error) on_error_("", error.message());
  return std::nullopt;
}

}  // namespace tendril::cli
