// tendril/stream/worker.hpp — the worker side of a remote stage: a pool that takes a stage's
// items from its Redis work stream, runs the handler, and sends the results back.
//
//   auto worker = tendril::stream::stream_worker(
//       {.endpoint = *tendril::redis::Endpoint::parse("redis://host:6379"), .stage = "sha256",
//        .num_workers = 4, .retries = 2},
//       [](std::string path, tendril::WorkerState& state) { return hash(path); });
//   worker.run(stop_token);  // until asked to stop
//
// Delivery is at least once. Each of `num_workers` threads is a consumer of the stage's group
// (XREADGROUP with COUNT and BLOCK), with its own connection and WorkerState; on (re)start it
// first reads its own pending history. A result is written and its entry acknowledged in one
// MULTI/EXEC, so an item is either answered and acked, or neither. Entries idle longer than
// `min_idle` on a dead consumer are claimed (XAUTOCLAIM) by live ones; an item being worked on
// keeps its lease (XCLAIM ... JUSTID, every min_idle / 3). An entry delivered more than
// `max_deliveries` times, or that cannot be decoded, goes to the dead-letter stream with why,
// and its producer hears of the failure. The work stream is trimmed with MINID below the oldest
// entry some group has not acknowledged, never with MAXLEN. When the run of an entry was
// cancelled (its results stream is gone) the entry is acknowledged and dropped unrun.
//
// Stopping (request_stop() or the stop token): each thread finishes its item, writes what it
// finished, and hands back the entries it had fetched but not begun (acknowledged and added
// again at the stream's end, atomically), then run() returns.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>

#include "tendril/core/error.hpp"
#include "tendril/core/worker_state.hpp"
#include "tendril/pipeline/detail/handler_traits.hpp"
#include "tendril/pipeline/detail/stage_worker.hpp"
#include "tendril/redis/endpoint.hpp"
#include "tendril/stream/codec.hpp"

namespace tendril::stream {

struct WorkerOptions {
  redis::Endpoint endpoint;
  std::string stage;            // the remote stage's name (its keys: keys.hpp)
  std::size_t num_workers = 1;  // consumer threads, each with its own WorkerState
  int retries = 1;              // total attempts per item, here (1 = no retry)
  std::string consumer = {};    // this pool's name in the group; "<host>-<pid>" when empty
  std::chrono::milliseconds min_idle{5000};  // a pending entry idle this long may be claimed
  int max_deliveries = 3;  // deliveries before an entry goes to the dead-letter stream
  std::size_t batch = 16;  // entries fetched per XREADGROUP
  std::chrono::milliseconds block{500};  // XREADGROUP BLOCK (below the endpoint's timeout)
};

struct WorkerStats {
  std::uint64_t processed = 0;      // answered with a value
  std::uint64_t failed = 0;         // answered with an error, after `retries` attempts
  std::uint64_t retried = 0;        // attempts after a first failed one
  std::uint64_t dead_lettered = 0;  // undecodable or delivered more than max_deliveries times
  std::uint64_t claimed = 0;        // taken over from idle consumers
  std::uint64_t dropped = 0;        // of cancelled runs, acknowledged unrun
  std::uint64_t handed_back = 0;    // fetched but not begun when stopped
  std::uint64_t reconnects = 0;
  std::string last_error = {};  // the last connection failure, if any
};

// What became of one entry's payload; made by the typed wrapper stream_worker() builds.
struct EntryOutcome {
  enum class Kind { value, failed, undecodable } kind = Kind::value;
  std::string data = {};  // the encoded output (value), or the error's message
  ErrorKind error_kind = ErrorKind::handler;
  int attempts = 1;
};
using EntryHandler = std::function<EntryOutcome(std::string_view payload, WorkerState&)>;

// Inside a stream worker's handler: the item's idempotency key, "<run>:<seq>" (the producing
// run's id and the item's number in it), the same on every delivery of the item. Use it to make
// side effects happen once (SET key NX, a unique index). Empty outside a handler.
std::string_view current_item_key() noexcept;

class StreamWorker {
 public:
  // Checks the options (std::invalid_argument naming a bad one); connects only in run().
  StreamWorker(WorkerOptions options, EntryHandler handler);
  StreamWorker(StreamWorker&&) noexcept;
  StreamWorker& operator=(StreamWorker&&) noexcept;
  ~StreamWorker();

  // Serves until `stop` (or request_stop()) asks it to end; the stats then. An error when Redis
  // cannot be reached at the start (naming the URL, never the password) or refuses the login;
  // later failures are retried with backoff and counted.
  Result<WorkerStats> run(std::stop_token stop = {});
  void request_stop();
  WorkerStats stats() const;
  const WorkerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A StreamWorker running `handler` — Out(In) or Out(In, WorkerState&), or returning
// Result<Out> — on items decoded with Codec<In>, its results encoded with Codec<Out>.
template <template <class> class Codec = JsonCodec, class F>
StreamWorker stream_worker(WorkerOptions options, F handler) {
  using traits = tendril::detail::handler_traits<F>;
  using In = typename traits::input;
  using Out = typename traits::output;
  static_assert(!traits::is_async, "a stream worker runs plain handlers");
  static_assert(!traits::accepts_errors, "a stream worker's handler takes the item itself");
  static_assert(CodecFor<Codec, In> && CodecFor<Codec, Out>,
                "the codec must have encode() and decode() for the handler's types");
  const int attempts = options.retries;
  auto erased = tendril::detail::erase_handler(std::move(handler));
  EntryHandler entry = [erased = std::move(erased), attempts](
                           std::string_view payload, WorkerState& state) mutable -> EntryOutcome {
    auto item = Codec<In>::decode(payload);
    if (!item)
      return {EntryOutcome::Kind::undecodable, item.error().message, ErrorKind::invalid, 0};
    Error last;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
      tendril::detail::Carried<In> input(*item);
      auto out = tendril::detail::call_handler(erased, std::move(input), state);
      if (out)
        return {EntryOutcome::Kind::value, Codec<Out>::encode(*out), ErrorKind::handler, attempt};
      last = std::move(*out.error());
      if (!last.retryable() || state.stop_token().stop_requested())
        return {EntryOutcome::Kind::failed, last.message, last.kind, attempt};
    }
    return {EntryOutcome::Kind::failed, last.message, last.kind, attempts};
  };
  return StreamWorker(std::move(options), std::move(entry));
}

}  // namespace tendril::stream
