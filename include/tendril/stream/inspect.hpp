// tendril/stream/inspect.hpp — what the remote stages on a Redis are doing: for `tendril watch`
// and for monitoring.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/redis/connection.hpp"

namespace tendril::stream {

struct StageGroup {
  std::string stage;               // from the key tendril:STAGE:work
  std::string group;               // the consumer group
  long long consumers = 0;         // known to the group, dead ones too
  long long active_consumers = 0;  // of those, seen in the last 10 s
  long long pending = 0;           // delivered, not yet acknowledged
  long long lag = -1;              // not yet delivered (-1: Redis cannot tell)
  long long entries = 0;           // in the work stream (acknowledged ones until trimmed)
  long long dead_letters = 0;      // in tendril:STAGE:dead
};

// Every stage's groups on this Redis (SCAN for tendril:*:work), sorted by stage name.
Result<std::vector<StageGroup>> stage_groups(redis::Connection& connection);

}  // namespace tendril::stream
