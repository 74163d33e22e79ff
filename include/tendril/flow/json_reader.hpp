// tendril/flow/json_reader.hpp — reading JSON that comes from outside, within limits.
//
// Every flow file and job Tendril reads from a file, a pipe or a peer goes through read_json: it is
// refused, with an `invalid` Error naming the place (line:column) and the reason, when it is
// larger than `max_bytes`, nests deeper than `max_depth`, repeats a key within one object, has
// a number that overflows a double (1e400), or is not JSON. Nothing it reads can exhaust the
// stack or throw. Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string_view>

#include "tendril/core/error.hpp"
#include "tendril/flow/json.hpp"

namespace tendril {

struct JsonLimits {
  std::size_t max_bytes = 16u << 20;  // 16 MiB
  std::size_t max_depth = 64;         // nested arrays and objects
};

Result<Json> read_json(std::string_view text, JsonLimits limits = {});

}  // namespace tendril
