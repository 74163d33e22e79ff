// src/stream/entries.hpp — stream entries out of Redis replies, and small shared helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/redis/connection.hpp"

namespace tendril::stream::detail {

struct Entry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
  bool deleted = false;  // the id is pending but the entry was trimmed away (nil fields)
  const std::string* field(std::string_view name) const {
    for (const auto& [key, value] : fields)
      if (key == name) return &value;
    return nullptr;
  }
};

// The entries of an XREAD / XREADGROUP reply ([[key, [[id, [f, v, ...]], ...]], ...]; nil: none).
std::vector<Entry> read_entries(const redis::Reply& reply);
// The entries of an [[id, [f, v, ...]], ...] array (XRANGE, XCLAIM, XAUTOCLAIM's second element).
std::vector<Entry> entry_list(const redis::Reply& list);

// Several items in one work entry (its `items` field, instead of `seq` and `data`): per item its
// seq (8 bytes, little-endian), its length (4 bytes) and its bytes. Their results travel the same
// way: seq (8), ok (1), error kind (1), attempts (2), length (4), then the output or the message.
// A producer packs what it has queued, so under load one entry carries many items and Redis does
// one entry's work for all of them.
struct ItemFrame {
  std::uint64_t seq = 0;
  std::string_view bytes;
};
struct ResultFrame {
  std::uint64_t seq = 0;
  bool ok = false;
  ErrorKind kind = ErrorKind::handler;
  int attempts = 0;
  std::string_view bytes;  // the output, or the error's message
};
void append_item(std::string& frames, std::uint64_t seq, std::string_view bytes);
void append_result(std::string& frames, const ResultFrame& result);
// False when the frames are cut short or malformed (what was read before stays in `out`).
bool split_items(std::string_view frames, std::vector<ItemFrame>& out);
bool split_results(std::string_view frames, std::vector<ResultFrame>& out);

// "<hostname>-<pid>".
std::string default_consumer_name();
// 16 random hex digits.
std::string random_hex();

// Sleeps up to `delay`, in short steps, unless `stopping()` turns true.
template <class Stopping>
void sleep_unless(std::chrono::milliseconds delay, Stopping stopping) {
  const auto until = std::chrono::steady_clock::now() + delay;
  while (!stopping() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace tendril::stream::detail
