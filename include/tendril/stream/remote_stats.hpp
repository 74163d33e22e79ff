// tendril/stream/remote_stats.hpp — what a remote stage's run did on the wire.
#pragma once

#include <cstdint>
#include <string>

namespace tendril::stream {

struct RemoteStats {
  std::uint64_t sent = 0;        // XADDs: first sends and resends
  std::uint64_t resent = 0;      // items sent again after a connection failed
  std::uint64_t duplicates = 0;  // results of items already answered (at-least-once), dropped
  std::uint64_t reconnects = 0;
  std::string last_error = {};  // the last connection failure, if any
};

}  // namespace tendril::stream
