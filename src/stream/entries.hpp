// src/stream/entries.hpp — stream entries out of Redis replies, and small shared helpers.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

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
