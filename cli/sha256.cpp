#include "sha256.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tendril::cli {
namespace {

std::string to_hex(const unsigned char* digest, unsigned length) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned i = 0; i < length; ++i) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 0xf];
  }
  return hex;
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Closes a file descriptor when it goes out of scope.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

FileHasher::FileHasher(std::size_t buffer_bytes)
    : context_(EVP_MD_CTX_new()), buffer_(buffer_bytes) {
  if (!context_) throw std::runtime_error("OpenSSL: cannot allocate a digest context");
}

FileHasher::~FileHasher() { EVP_MD_CTX_free(context_); }

Result<FileDigest> FileHasher::hash(const std::string& path, std::stop_token stop) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below rejects it.
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
  if (file.fd < 0) {
    const int why = errno;
    // A socket cannot be opened at all (ENXIO): say what it is, as for a FIFO.
    struct stat info {};
    if (why == ENXIO && ::stat(path.c_str(), &info) == 0 && !S_ISREG(info.st_mode))
      return Err(std::string("cannot hash ") + file_kind(info.st_mode));
    return Err(std::strerror(why));
  }
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) return Err(std::strerror(errno));
  if (!S_ISREG(info.st_mode)) return Err(std::string("cannot hash ") + file_kind(info.st_mode));
  ::posix_fadvise(file.fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  if (EVP_DigestInit_ex(context_, EVP_sha256(), nullptr) != 1)
    return Err("OpenSSL: digest init failed");
  std::uint64_t total = 0;
  for (;;) {
    if (stop.stop_requested()) return Err("cancelled");
    const ssize_t got = ::read(file.fd, buffer_.data(), buffer_.size());
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      return Err(std::string("read failed: ") + std::strerror(errno));
    }
    EVP_DigestUpdate(context_, buffer_.data(), static_cast<std::size_t>(got));
    total += static_cast<std::uint64_t>(got);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  if (EVP_DigestFinal_ex(context_, digest, &length) != 1)
    return Err("OpenSSL: digest final failed");
  return FileDigest{path, to_hex(digest, length), total};
}

std::string sha256_hex(const void* data, std::size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr);
  return to_hex(digest, length);
}

}  // namespace tendril::cli
