// tendril/stream/detail/remote_channel.hpp — the producing run's end of a remote stage: sends
// encoded items to the work stream and hears their results.
//
// A sender thread adds queued items to the work stream, many per round trip; a receiver thread
// reads the run's results stream (XREAD BLOCK) and hands each result to `on_result`, once: a
// result for an item already answered (a duplicate of at-least-once delivery) is counted and
// dropped. When a connection fails, both reconnect with backoff, and every item not yet
// answered is sent again (Redis may have lost it), so nothing is lost while this process lives.
// close() ends the threads and deletes the results stream, which tells workers to drop the
// run's remaining entries.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tendril/core/error.hpp"
#include "tendril/redis/endpoint.hpp"
#include "tendril/stream/remote_stats.hpp"

namespace tendril::stream::detail {

struct RemoteResult {
  std::uint32_t tag = 0;  // what send() was given with the item
  bool ok = false;
  std::string data;  // the encoded output, when ok
  Error error;       // otherwise
};

class RemoteChannel {
 public:
  // `items_per_entry`: how many queued items one work entry may carry (1: no packing).
  RemoteChannel(redis::Endpoint endpoint, std::string stage, std::size_t items_per_entry,
                std::function<void(RemoteResult&&)> on_result);
  ~RemoteChannel();  // close()
  RemoteChannel(const RemoteChannel&) = delete;
  RemoteChannel& operator=(const RemoteChannel&) = delete;

  // Connects and makes the results stream; an error naming the URL when Redis cannot be used.
  Result<void> open();
  // Queues an item (thread-safe); `tag` comes back with its result.
  void send(std::uint32_t tag, std::string payload);
  // Stops both threads and deletes the run's results stream. Idempotent.
  void close();
  RemoteStats stats() const;
  const std::string& run_id() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tendril::stream::detail
