// tendril/state/reading.hpp — reading back what a Publisher wrote, from its stream or its file.
//
// The input may come from other programs, older versions or a torn write, so these decoders
// trust no shape and never throw: what is readable is kept, and each entry or state that is not
// what a Publisher writes is skipped and counted.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/redis/connection.hpp"
#include "tendril/state/tool_state.hpp"

namespace tendril::state {

// One tool state from its JSON object. Unknown fields land in `extra`; a missing or null
// standard field keeps its default; a standard field of another type is an `invalid` Error
// naming the field.
Result<ToolState> read_tool_state(const OrderedJson& json);
// The same from text: one JSON object (a line of the state file), at most 16 MiB deep 64.
Result<ToolState> parse_tool_state(std::string_view text);

// What a run of stream entries held.
struct StreamBatch {
  std::vector<ToolState> states;  // in stream order
  std::string last_id;            // the id of the last entry that had one; empty if none did
  std::size_t entries = 0;        // entries seen, readable or not
  std::size_t malformed = 0;      // entries and states skipped as not a Publisher's
};

// Decodes stream entries as XRANGE returns them (an array of [id, [field, value, ...]]); each
// entry's `data` field holds {"schema": ..., "data": [state, ...]}. An error when the reply is
// not an array at all.
Result<StreamBatch> decode_stream_entries(const redis::Reply& entries);
// Decodes an XREAD reply for one stream: nil (nothing new), or [[name, entries]].
Result<StreamBatch> decode_xread(const redis::Reply& reply);

}  // namespace tendril::state
