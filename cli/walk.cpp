#include "walk.hpp"

#include <system_error>

namespace tendril::cli {

namespace fs = std::filesystem;

FileWalk::FileWalk(const fs::path& root, ErrorSink on_error) : on_error_(std::move(on_error)) {
  std::error_code error;
  it_ =
      fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, error);
  if (error) on_error_(root.string(), error.message());
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
    if (entry.is_directory(type_error))
      continue;  // follows links: a link to a directory is skipped
    return entry.path().string();
  }
  if (error) on_error_("", error.message());
  return std::nullopt;
}

}  // namespace tendril::cli
