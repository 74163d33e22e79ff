// tendril/state/publisher.hpp — publish tool states from any thread; one Redis write per flush.
//
// publish() never blocks and never throws: it puts the state in a lock-free ring and returns.
// A background worker wakes every `flush_interval`, or as soon as `batch_size` states are
// queued, and drains everything queued into one Redis command (split only above
// `max_command_bytes`): in stream mode `XADD <topic> * data {"schema":"PythonTool","data":[...]}
// attributes {"event_type":"tool","count":N,"timestamp":...,...}`, in pub/sub mode
// `PUBLISH <topic> [...]`. With no Redis configured, states go to a default sink as JSON lines.
//
// Nothing is lost on the way: when Redis is down the states are kept and sent again with
// backoff; only beyond `max_queued` are the oldest dropped, and counted. shutdown() (also run by
// the destructor, and at exit for the shared publisher) sends what is left. All members are
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tendril/redis/endpoint.hpp"
#include "tendril/state/tool_state.hpp"

namespace tendril::state {

enum class PublishMode { stream, pubsub };

// How states are written. tendril: compact JSON, and stream attributes that number the states
// (`publisher`, `first_seq`) so consumers can drop the duplicates at-least-once delivery may
// bring. python: the original package's bytes, for consumers that compare them: json.dumps's
// default formatting (", ", ": ", non-ASCII as \uXXXX) and attributes with event_type, count
// and timestamp only.
enum class Wire { tendril, python };

struct PublisherOptions {
  std::string topic = "progress";  // stream key, or pub/sub channel
  std::chrono::milliseconds flush_interval{1000};
  std::size_t batch_size = 20;
  std::size_t max_queued = 100'000;         // states kept while Redis is away
  std::size_t max_command_bytes = 1 << 20;  // a flush is split above this
  PublishMode mode = PublishMode::stream;
  // Where Redis is; unset: from PREFECT_REDIS_MESSAGING_*; no Redis there: the default sink.
  std::optional<redis::Endpoint> endpoint = std::nullopt;
  bool use_environment = true;  // false: no Redis unless `endpoint` is set
  std::string sink_path = {};   // default sink: JSON lines appended to this file, or stderr
  // Only each run's latest state of a flush is sent (a run: flow_run_id, tool_run_id and
  // tool_name); the others are counted as `superseded`. For progress views, which need no
  // per-step history.
  bool latest_only = false;
  // The stream is an event log, not a work queue: each XADD trims it to about this many entries
  // (`MAXLEN ~`). 0: no bound in entries.
  std::size_t max_stream_length = 10'000;
  // ...and to about this many bytes of entries, from the size of this publisher's recent
  // commands (an entry is one flush, up to max_command_bytes: 10,000 of them could hold
  // gigabytes). 0: no bound in bytes; with both 0 the stream is never trimmed.
  std::size_t max_stream_bytes = std::size_t{64} << 20;
  // The sink file is rotated (to PATH.1, replacing the last one) once it grows past this many
  // bytes. 0: never rotated. A character device (/dev/null) is never rotated.
  std::uint64_t max_sink_bytes = std::uint64_t{64} << 20;
  // Where the publisher's warnings go (one line each, once per cause); unset: stderr. Not
  // compared by ==.
  std::function<void(const std::string&)> on_warning = {};
  Wire wire = Wire::tendril;
  // Called on the worker thread, with no lock of the publisher held, before each Redis command
  // (or sink write) that carries states: how many it carries. Not compared by ==.
  std::function<void(std::size_t states)> on_batch = {};

  bool operator==(const PublisherOptions& other) const;
};

struct PublisherStats {
  std::uint64_t published = 0;   // accepted by publish()
  std::uint64_t sent = 0;        // delivered to Redis or the default sink
  std::uint64_t batches = 0;     // Redis commands (or sink writes) that delivered them
  std::uint64_t dropped = 0;     // lost: ring full, beyond max_queued, refused by Redis, a sink
                                 // that cannot be written, or undeliverable at shutdown
  std::uint64_t superseded = 0;  // not sent by choice: a later state of its run came in the same
                                 // flush (latest_only)
  std::uint64_t refused = 0;     // of those, set aside because Redis refused them (too large)
  std::uint64_t retries = 0;     // failed deliveries that were tried again
  // States sent again after a delivery whose outcome was unknown (a timeout: Redis may have run
  // it): each may have arrived twice. Delivery is at-least-once; `publisher` and `first_seq` in
  // a stream entry's attributes number its states, so consumers can drop duplicates.
  std::uint64_t resent = 0;
  std::string publisher_id;  // this publisher's name in those attributes
  std::size_t depth = 0;     // waiting now
  std::string last_error;    // the last configuration or delivery problem, if any
  std::string destination;   // redis://user@host:port/db, or the default sink
};

class ToolStatePublisher {
 public:
  explicit ToolStatePublisher(PublisherOptions options = {});
  ~ToolStatePublisher();
  ToolStatePublisher(const ToolStatePublisher&) = delete;
  ToolStatePublisher& operator=(const ToolStatePublisher&) = delete;

  // Never blocks, never throws. Thread-safe.
  void publish(ToolState state) noexcept;
  // A state already written as one JSON object (a dict json.dumps wrote, say), sent as it is
  // and never parsed on the caller's thread: the worker checks it, and text that is not one
  // JSON object is dropped, counted and said. Superseded by nothing (latest_only looks at
  // ToolStates only). False when it was dropped at once: the ring is full or the publisher shut
  // down. Never blocks, never throws. Thread-safe.
  bool publish_json(std::string object) noexcept;
  // Sends everything queued (retrying within `timeout`), then stops; later publishes are
  // dropped and counted. Returns true when every state published was delivered: false when
  // any was left unsent or dropped (stats() says how many). Thread-safe, idempotent.
  bool shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits until everything published before the call was sent or dropped, or `timeout`
  // passed; true when it all went. Thread-safe.
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  PublisherStats stats() const;
  const PublisherOptions& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The seed's lifecycle helper: one tool run's record, changed and stamped anew at each call
// and published (so the last state still carries the run's latest counts). Every state it
// publishes carries `tool_run_id` (an extra field: "<publisher id>.<n>"), so consumers tell two
// runs of one tool apart even without a flow run id. Thread-safe.
class ToolStateManager {
 public:
  ToolStateManager(ToolStatePublisher& publisher, std::string tool_name,
                   std::vector<std::string> steps = {});
  const std::string& run_id() const noexcept { return run_id_; }
  void starting_tool(const std::string& message = "starting");  // RUNNING
  void publish_step_details(const std::string& step_name, const std::string& message,
                            long long total_files = 0, long long processed_files = 0,
                            const std::string& current_file_name = {});  // RUNNING
  void completed_tool(const std::string& message = "completed");         // COMPLETED
  void failed_tool(const std::string& message);                          // FAILED
  // Waits until this run's states were sent (see ToolStatePublisher::flush).
  bool finish(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  void send(const std::function<void(ToolState&)>& change);
  ToolStatePublisher& publisher_;
  std::string run_id_;
  std::mutex mutex_;
  ToolState current_;  // guarded by mutex_
};

// The process's shared publisher, made on first call. A later call with other options is an
// error (std::logic_error), not silently ignored. Flushed at process exit.
ToolStatePublisher& get_tool_state_publisher(
    std::optional<PublisherOptions> options = std::nullopt);

}  // namespace tendril::state
