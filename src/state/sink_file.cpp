#include "sink_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tendril::state::detail {

Result<FILE*> open_sink_file(const std::string& path) {
  auto refused = [&](const std::string& why) {
    return std::unexpected(
        Error{.kind = ErrorKind::invalid, .message = "state file '" + path + "' " + why});
  };
  // O_NONBLOCK: opening a FIFO with no reader fails at once (ENXIO) instead of hanging.
  const int fd =
      ::open(path.c_str(),
             O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    const int error = errno;
    if (error == ELOOP) return refused("is a symbolic link; refused");
    if (error == ENXIO) return refused("is a FIFO with no reader; refused");
    return refused(std::string("cannot be opened: ") + std::strerror(error));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !(S_ISREG(info.st_mode) || S_ISCHR(info.st_mode))) {
    ::close(fd);
    return refused("is neither a regular file nor a character device; refused");
  }
  ::fcntl(fd, F_SETFL, O_WRONLY | O_APPEND);  // blocking writes from here on
  FILE* file = ::fdopen(fd, "a");
  if (!file) {
    ::close(fd);
    return refused(std::string("cannot be opened: ") + std::strerror(errno));
  }
  return file;
}

}  // namespace tendril::state::detail
