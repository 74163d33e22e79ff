// cli/check.hpp — `tendril scan --check MANIFEST`: verify digests as `sha256sum -c` does.
//
// Reads lines `<64 hex>  <name>` (or ` *<name>`; a leading `\` marks a name with `\\`, `\n`
// or `\r` escapes), hashes the named files on a pool of workers, and prints `NAME: OK`,
// `NAME: FAILED` or `NAME: FAILED open or read` in the manifest's order, with sha256sum's
// warnings on stderr. Exit status as sha256sum's: 0 when every listed file was read and
// matched; 1 otherwise (a mismatch, a file that cannot be read, a manifest that cannot be
// opened, no properly formatted line; with `strict`, an improperly formatted line).
#pragma once

#include <cstddef>
#include <string>

namespace tendril::cli {

struct CheckOptions {
  std::string manifest;  // "-": stdin
  std::size_t workers = 2;
  bool quiet = false;   // no OK lines
  bool status = false;  // no output at all: the exit status says it
  bool strict = false;  // an improperly formatted line fails the check
};

int run_check(const CheckOptions& options);

}  // namespace tendril::cli
