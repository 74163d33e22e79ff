// cli/sha256.hpp — SHA-256 of a file through OpenSSL, one reusable hasher per worker.
//
// A FileHasher owns an OpenSSL digest context and a read buffer; it is not thread-safe, and is
// meant to live in one worker's WorkerState for the whole run.
#pragma once

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <tendril/error.hpp>
#include <vector>

struct evp_md_ctx_st;

namespace tendril::cli {

struct FileDigest {
  std::string path;
  std::string hex;  // 64 lowercase hex digits
  std::uint64_t bytes = 0;
};

class FileHasher {
 public:
  // 64 KiB reads: the kernel's copy out of the page cache lands in a buffer that stays in the
  // core's L2 cache, from where the hash reads it again. 256 KiB reads ran the same scan 1.5x
  // slower (bench/RESULTS.md, section 15), most of it in that copy.
  explicit FileHasher(std::size_t buffer_bytes = 64 * 1024);
  ~FileHasher();
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  // The digest of the regular file at `path`. An error, naming the cause, for anything that is
  // not a readable regular file: a FIFO, a socket or device, a dangling link, a link loop.
  // A directory (reached through a link) is an error too. Never blocks on a FIFO. Gives up
  // between two reads once `stop` is requested, so that a cancelled scan ends promptly.
  Result<FileDigest> hash(const std::string& path, std::stop_token stop = {});

 private:
  evp_md_ctx_st* context_;
  std::vector<unsigned char> buffer_;
};

// The hex SHA-256 of a byte string (for tests and small inputs).
std::string sha256_hex(const void* data, std::size_t size);

}  // namespace tendril::cli
