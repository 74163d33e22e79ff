#include "tendril/state/publisher.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <variant>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "backlog.hpp"
#include "python_json.hpp"
#include "ring.hpp"
#include "sink_file.hpp"
#include "tendril/core/retry.hpp"
#include "tendril/redis/connection.hpp"
#include "wake_word.hpp"

namespace tendril::state {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A batch Redis did not take is kept and sent again, as long as it takes: 50 ms after the first
// failure, doubling up to 5 s between tries.
constexpr RetryPolicy kRedelivery{
    .attempts = RetryPolicy::kUnbounded, .delay = 50ms, .backoff = 2.0, .max_delay = 5s};

// Whether Redis refused a command for what it carries (too large a bulk), so that a smaller one
// may pass; other refusals (MISCONF, OOM, READONLY, NOAUTH, ...) are about the server, and the
// states wait for it.
bool refuses_the_content(const Error& error) {
  if (error.kind != ErrorKind::refused) return false;
  for (const char* sign : {"invalid bulk length", "Protocol error", "too large", "too big"})
    if (error.message.find(sign) != std::string::npos) return true;
  return false;
}

// "<pid>-<16 hex digits>": unique enough that two publishers never share one.
std::string make_publisher_id() {
  std::random_device random;
  const std::uint64_t bits = (static_cast<std::uint64_t>(random()) << 32) ^ random();
  char text[40];
  std::snprintf(text, sizeof text, "%d-%016llx", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(bits));
  return text;
}

// What waits to be sent: a state, or one its publisher wrote as JSON itself (publish_json).
using Entry = std::variant<ToolState, std::string>;

// Whether `text` is one JSON object, as publish_json() requires.
bool is_json_object(const std::string& text) {
  const std::size_t start = text.find_first_not_of(" \t\r\n");
  return start != std::string::npos && text[start] == '{' && nlohmann::json::accept(text);
}

struct ToolStatePublisher::Impl {
  explicit Impl(PublisherOptions opts) : options(std::move(opts)), ring(1 << 16) {
    if (options.endpoint) {
      endpoint = options.endpoint;
    } else if (options.use_environment) {
      auto configured = redis::Endpoint::from_environment();
      if (!configured) {
        warn(configured.error().message + "; tool states go to the default sink");
      } else {
        endpoint = *configured;
      }
    }
    if (!endpoint && !options.sink_path.empty()) open_sink();
    worker = std::thread([this] { run(); });
  }

  ~Impl() {
    if (sink) std::fclose(sink);
  }

  void warn(const std::string& message) {
    {
      std::lock_guard lock(error_mutex);
      if (last_error == message) return;  // say each problem once
      last_error = message;
    }
    const std::string line = "tendril: tool-state publisher: " + message;
    if (options.on_warning)
      options.on_warning(line);
    else
      std::fprintf(stderr, "%s\n", line.c_str());
  }

  // The worker: sleep until a batch is queued, the interval passed, or shutdown; then send.
  void run() {
    // The ring's storage is made resident here, not when the publisher is made (which stays
    // quick: 21 MiB of cells took 20 ms to write), and not by publish() (no page fault there).
    ring.prefault();
    std::unique_lock lock(mutex);
    for (;;) {
      const auto wanted = [&] { return stopping || flush_requested || ring.size() >= batch_size; };
      const auto until = Clock::now() + options.flush_interval;
      for (;;) {
        wake_at.store(ring.popped() + batch_size, std::memory_order_seq_cst);
        const std::uint32_t seen = wake.epoch();  // before the look: no notify after it is lost
        const auto now = Clock::now();
        if (wanted() || now >= until) break;
        lock.unlock();
        wake.sleep(seen, until - now);
        lock.lock();
      }
      flush_requested = false;
      const bool stop = stopping;
      const auto deadline = stop_deadline;
      lock.unlock();
      drain();
      if (!backlog.empty() && Clock::now() >= retry_at) deliver();
      lock.lock();
      if (stop && ring.size() == 0 && (backlog.empty() || Clock::now() >= deadline)) break;
      if (stop &&
          !backlog.empty()) {  // shutting down with Redis away: keep trying until the deadline
        lock.unlock();
        std::this_thread::sleep_for(std::min<Clock::duration>(
            50ms, std::max<Clock::duration>(0ms, retry_at - Clock::now())));
        lock.lock();
      }
    }
    if (!backlog.empty()) {
      dropped += backlog.size();
      warn("shutdown: " + std::to_string(backlog.size()) + " tool states could not be sent");
      take_front(backlog.size());
    }
  }

  // The only write to memory other threads write too is the ring's claim of a cell: the count
  // of states published is the ring's count of pushes, and the push that the sleeping worker
  // waits for (wake_at) wakes it. Both sides write, then read the other's (sequentially
  // consistent): either this push sees the worker's wake_at, or the worker, before it sleeps,
  // sees this push.
  bool push(Entry&& entry) noexcept {
    std::size_t position = 0;
    if (closed.load(std::memory_order_relaxed) || !ring.try_push(std::move(entry), position)) {
      ++dropped;
      return false;
    }
    if (position + 1 == wake_at.load(std::memory_order_seq_cst)) wake.notify();
    return true;
  }

  // Ring to backlog, taking only what was there when it began (busy publishers must not keep
  // the worker from sending); beyond max_queued the oldest go. JSON given as text that is not
  // one object is dropped here, before it could spoil a command.
  void drain() {
    // Every state counted is taken, even one whose cell was claimed and is still being written:
    // left behind, its producer, having already looked at wake_at, would wake no one, and it
    // would wait for the interval.
    for (std::size_t budget = ring.size(); budget > 0; --budget) {
      Entry entry = ring.pop_claimed();
      if (const auto* text = std::get_if<std::string>(&entry); text && !is_json_object(*text)) {
        ++dropped;
        warn("a state given as JSON text is not one JSON object; it is dropped (counted in stats)");
        continue;
      }
      if (options.latest_only)
        latest.push_back(std::move(entry));
      else
        admit(std::move(entry));
    }
    if (options.latest_only) {
      keep_latest_per_run(latest);
      for (auto& state : latest) admit(std::move(state));
      latest.clear();
    }
    if (backlog.size() < options.max_queued) dropping = false;
    depth.store(backlog.size(), std::memory_order_relaxed);
  }

  // One state onto the backlog; beyond max_queued the oldest goes.
  void admit(Entry&& state) {
    backlog.push_back(std::move(state));
    if (backlog.size() <= options.max_queued) return;
    take_front(1);
    ++dropped;
    if (!dropping)  // said when dropping starts, not for every state
      warn("more than " + std::to_string(options.max_queued) +
           " tool states are waiting; the oldest are being dropped (counted in stats)");
    dropping = true;
  }

  // Keeps each run's last state of `batch`, in their order; the others are superseded. JSON
  // given as text is always kept.
  void keep_latest_per_run(std::vector<Entry>& batch) {
    if (batch.size() < 2) return;
    std::unordered_set<std::string> seen;
    std::vector<bool> keep(batch.size(), true);
    for (std::size_t i = batch.size(); i-- > 0;)
      if (const auto* state = std::get_if<ToolState>(&batch[i]))
        keep[i] = seen.insert(state->run_key()).second;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (keep[i]) batch[kept++] = std::move(batch[i]);
    superseded += batch.size() - kept;
    batch.resize(kept);
  }

  // The oldest `n` states leave the backlog (sent, dropped or set aside).
  void take_front(std::size_t n) {
    backlog.pop_front(n);
    backlog_first_seq += n;
  }

  // One state as the wire wants it.
  void append_entry(std::string& out, const Entry& entry) const {
    if (const auto* text = std::get_if<std::string>(&entry))
      out += *text;
    else if (options.wire == Wire::python)
      append_python_json(out, std::get<ToolState>(entry).to_json());
    else
      std::get<ToolState>(entry).append_json(out);
  }

  // The stream entry's attributes for `count` states from the backlog's front.
  std::string attributes(std::size_t count) const {
    if (options.wire == Wire::python) {
      std::string out;
      append_python_json(
          out,
          OrderedJson{{"event_type", "tool"}, {"count", count}, {"timestamp", utc_timestamp()}});
      return out;
    }
    // publisher + first_seq number every state (first_seq + its index in `data`), so a
    // consumer can drop the duplicates at-least-once delivery may bring.
    return OrderedJson{{"event_type", "tool"},
                       {"count", count},
                       {"timestamp", utc_timestamp()},
                       {"publisher", publisher_id},
                       {"first_seq", backlog_first_seq}}
        .dump();
  }

  // Everything in the backlog, in as few commands as the byte limit allows. A command Redis
  // refuses (a state over its proto-max-bulk-len, say) is split in halves until the state it
  // refuses is alone; that one is set aside (counted, with the reason) and the rest go on.
  void deliver() {
    if (!endpoint) return write_sink();
    if (!reconnect()) return;
    std::size_t most = backlog.size();  // states per command; halved while Redis refuses
    const bool python = options.wire == Wire::python;
    const bool stream = options.mode == PublishMode::stream;
    const std::string_view verb = stream ? "XADD" : "PUBLISH";
    while (!backlog.empty()) {
      // Each state is written once, straight into the command's JSON array, in a buffer kept
      // from batch to batch (a batch can be megabytes: fresh buffers cost page faults).
      payload.clear();
      if (stream)
        payload +=
            python ? R"({"schema": "PythonTool", "data": )" : R"({"schema":"PythonTool","data":)";
      const std::size_t array_start = payload.size();
      payload += '[';
      std::size_t count = 0;
      while (count < backlog.size() && count < most) {
        const std::size_t before = payload.size();
        if (count > 0) payload += python ? ", " : ",";
        append_entry(payload, backlog[count]);
        if (count > 0 && payload.size() - array_start + 1 > options.max_command_bytes) {
          payload.resize(before);  // this one starts the next command
          break;
        }
        ++count;
      }
      payload += ']';
      if (stream) payload += '}';
      wire.clear();
      if (stream) {
        const std::size_t cap = stream_cap(payload.size());
        wire.begin(cap > 0 ? 10 : 7).arg(verb).arg(options.topic);
        if (cap > 0) wire.arg("MAXLEN").arg("~").arg(std::uint64_t{cap});
        wire.arg("*").arg("data").arg(payload).arg("attributes").arg(attributes(count));
      } else {
        wire.begin(3).arg(verb).arg(options.topic).arg(payload);
      }
      if (options.on_batch) options.on_batch(count);
      auto reply = connection->command(wire, verb);
      if (!reply && refuses_the_content(reply.error())) {
        connection.reset();  // Redis may close a connection whose command it refused
        if (count > 1) {
          most = count / 2;
          continue;
        }
        ++dropped;
        ++refused;
        warn("Redis refused tool state #" + std::to_string(backlog_first_seq) + ": " +
             reply.error().message + "; it is set aside (counted in stats) and the rest go on");
        take_front(1);
        most = backlog.size();
        if (!reconnect()) return;
        continue;
      }
      if (!reply) {
        // The command may have run before the connection failed: what is sent again may
        // arrive twice (at-least-once), and is counted as resent.
        uncertain_until = std::max(uncertain_until, backlog_first_seq + count);
        connection.reset();
        return failed(reply.error().message);
      }
      if (backlog_first_seq < uncertain_until)
        resent += std::min<std::uint64_t>(count, uncertain_until - backlog_first_seq);
      take_front(count);
      sent += count;
      ++batches;
      failed_deliveries = 0;
      most = backlog.size();
    }
    depth.store(0, std::memory_order_relaxed);
  }

  // A connection, opened if there is none; false (a failure recorded) when it cannot be.
  bool reconnect() {
    if (connection) return true;
    auto opened = redis::Connection::open(*endpoint);
    if (!opened) {
      failed(opened.error().message);
      return false;
    }
    connection.emplace(std::move(*opened));
    return true;
  }

  // The error is recorded before the retry is counted: whoever sees the count sees the cause.
  void failed(const std::string& message) {
    warn(message + " (" + std::to_string(backlog.size()) + " tool states kept; retrying)");
    ++failed_deliveries;
    retry_at = Clock::now() + kRedelivery.delay_before(failed_deliveries + 1);
    ++retries;
  }

  // JSON lines into the sink (stderr when no sink path was given). A sink that could not be
  // opened, or a write that fails (a full disk), drops the batch: counted and said once.
  void write_sink() {
    FILE* out = sink ? sink : (options.sink_path.empty() ? stderr : nullptr);
    bool written = false;
    if (out) {
      std::string lines;
      for (const auto& entry : backlog) {
        append_entry(lines, entry);
        lines += '\n';
      }
      if (options.on_batch) options.on_batch(backlog.size());
      written =
          std::fwrite(lines.data(), 1, lines.size(), out) == lines.size() && std::fflush(out) == 0;
      if (!written) {
        const std::string why = std::strerror(errno);
        std::clearerr(out);
        warn("writing to the default sink failed: " + why + "; tool states are dropped");
      }
    }
    if (written) {
      sent += backlog.size();
      ++batches;
      if (sink) rotate_sink_if_full();
    } else {
      dropped += backlog.size();
    }
    take_front(backlog.size());
    depth.store(0, std::memory_order_relaxed);
  }

  // Past max_sink_bytes, the sink file becomes PATH.1 and a new PATH is started.
  void rotate_sink_if_full() {
    if (options.max_sink_bytes == 0) return;
    struct stat info {};
    if (::fstat(::fileno(sink), &info) != 0 || !S_ISREG(info.st_mode) ||
        static_cast<std::uint64_t>(info.st_size) < options.max_sink_bytes)
      return;
    const std::string rotated = options.sink_path + ".1";
    if (std::rename(options.sink_path.c_str(), rotated.c_str()) != 0) {
      warn("cannot rotate the state file " + options.sink_path + ": " + std::strerror(errno));
      return;
    }
    std::fclose(sink);
    open_sink();
  }

  // Opens the sink file; when it cannot be, says why once and leaves `sink` null (its states
  // are then dropped and counted).
  void open_sink() {
    auto opened = detail::open_sink_file(options.sink_path);
    sink = opened ? *opened : nullptr;
    if (!opened) {
      sink_error = opened.error().message;
      warn(sink_error + "; tool states are dropped (counted in stats)");
    }
  }

  const PublisherOptions options;
  std::optional<redis::Endpoint> endpoint;
  FILE* sink = nullptr;
  std::string sink_error;  // why the sink file could not be opened
  const std::size_t batch_size = std::max<std::size_t>(1, options.batch_size);  // 0 acts as 1
  Ring<Entry> ring;
  // The number of pushes after which the sleeping worker wants waking: batch_size more than it
  // had taken when it last went to sleep. Written by the worker, read by every push.
  alignas(64) std::atomic<std::size_t> wake_at{batch_size};
  alignas(64) std::atomic<std::size_t> depth{0};  // in the backlog
  std::atomic<std::uint64_t> sent{0}, batches{0}, dropped{0}, retries{0};
  std::atomic<std::uint64_t> resent{0}, refused{0}, superseded{0};
  const std::string publisher_id = make_publisher_id();
  std::atomic<bool> closed{false};

  // The worker's own.
  detail::Backlog<Entry> backlog;
  std::vector<Entry> latest;  // drain()'s states before keep_latest_per_run, with latest_only
  // The MAXLEN for an entry of `bytes`: max_stream_length, lowered so that entries of the
  // recent commands' average size stay within max_stream_bytes; 0: no trimming.
  std::size_t stream_cap(std::size_t bytes) {
    entry_bytes = entry_bytes == 0 ? double(bytes) : 0.875 * entry_bytes + 0.125 * double(bytes);
    std::size_t cap = options.max_stream_length;
    if (options.max_stream_bytes > 0) {
      const auto by_bytes =
          static_cast<std::size_t>(double(options.max_stream_bytes) / entry_bytes);
      cap = std::max<std::size_t>(1, cap == 0 ? by_bytes : std::min(cap, by_bytes));
    }
    return cap;
  }

  double entry_bytes = 0;  // the recent commands' payload size (moving average), worker only
  std::string payload;     // deliver()'s buffers, kept from batch to batch
  redis::Commands wire;
  std::uint64_t backlog_first_seq = 0;  // the number of backlog.front(), counting from 0
  std::uint64_t uncertain_until = 0;    // states below this number may have been delivered
  bool dropping = false;                // beyond max_queued now (warned once per episode)
  std::optional<redis::Connection> connection;
  int failed_deliveries = 0;  // in a row; the next delay grows with it
  Clock::time_point retry_at{};

  std::mutex mutex;
  WakeWord wake;          // the worker sleeps on it; publishers, flush() and shutdown() wake it
  bool stopping = false;  // guarded by mutex
  bool flush_requested = false;       // guarded by mutex: flush() wants a drain now
  Clock::time_point stop_deadline{};  // guarded by mutex
  std::thread worker;

  mutable std::mutex error_mutex;
  std::string last_error;  // guarded by error_mutex
};

bool PublisherOptions::operator==(const PublisherOptions& o) const {
  return topic == o.topic && flush_interval == o.flush_interval && batch_size == o.batch_size &&
         max_queued == o.max_queued && max_command_bytes == o.max_command_bytes && mode == o.mode &&
         endpoint == o.endpoint && use_environment == o.use_environment &&
         sink_path == o.sink_path && latest_only == o.latest_only &&
         max_stream_length == o.max_stream_length && max_stream_bytes == o.max_stream_bytes &&
         max_sink_bytes == o.max_sink_bytes && wire == o.wire;
}

ToolStatePublisher::ToolStatePublisher(PublisherOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

ToolStatePublisher::~ToolStatePublisher() { shutdown(); }

void ToolStatePublisher::publish(ToolState state) noexcept {
  impl_->push(Entry(std::in_place_type<ToolState>, std::move(state)));
}

bool ToolStatePublisher::publish_json(std::string object) noexcept {
  return impl_->push(Entry(std::in_place_type<std::string>, std::move(object)));
}

bool ToolStatePublisher::shutdown(std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  if (impl.closed.exchange(true)) {
    if (impl.worker.joinable()) impl.worker.join();
    return impl.depth.load() == 0 && impl.dropped.load() == 0;
  }
  {
    std::lock_guard lock(impl.mutex);
    impl.stopping = true;
    impl.stop_deadline = Clock::now() + timeout;
  }
  impl.wake.notify();
  if (impl.worker.joinable()) impl.worker.join();
  return impl.depth.load() == 0 && impl.ring.size() == 0 && impl.dropped.load() == 0;
}

bool ToolStatePublisher::flush(std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  const std::uint64_t target = impl.ring.pushed();
  const auto deadline = Clock::now() + timeout;
  {
    std::lock_guard lock(impl.mutex);
    impl.flush_requested = true;
  }
  impl.wake.notify();
  const auto settled = [&] {  // every state published before the call is sent, lost or superseded
    return impl.sent.load() + impl.dropped.load() + impl.superseded.load() >= target;
  };
  while (!settled()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return impl.dropped.load() == 0 || impl.sent.load() + impl.superseded.load() >= target;
}

PublisherStats ToolStatePublisher::stats() const {
  const Impl& impl = *impl_;
  PublisherStats s;
  s.published = impl.ring.pushed();
  s.sent = impl.sent.load();
  s.batches = impl.batches.load();
  s.dropped = impl.dropped.load();
  s.retries = impl.retries.load();
  s.refused = impl.refused.load();
  s.resent = impl.resent.load();
  s.superseded = impl.superseded.load();
  s.publisher_id = impl.publisher_id;
  s.depth = impl.ring.size() + impl.depth.load();
  {
    std::lock_guard lock(impl.error_mutex);
    s.last_error = impl.last_error;
  }
  s.destination = impl.endpoint ? impl.endpoint->describe()
                                : "default sink (" +
                                      (impl.options.sink_path.empty() ? std::string("stderr")
                                                                      : impl.options.sink_path) +
                                      ")";
  return s;
}

const PublisherOptions& ToolStatePublisher::options() const noexcept { return impl_->options; }

ToolStatePublisher& get_tool_state_publisher(std::optional<PublisherOptions> options) {
  static std::mutex mutex;
  static std::unique_ptr<ToolStatePublisher> shared;  // destroyed, and so flushed, at exit
  std::lock_guard lock(mutex);
  if (!shared) {
    shared = std::make_unique<ToolStatePublisher>(options.value_or(PublisherOptions{}));
  } else if (options && *options != shared->options()) {
    throw UsageError(
        "get_tool_state_publisher: the shared publisher already exists with other options; "
        "pass none after the first call, or make a ToolStatePublisher of your own");
  }
  return *shared;
}

}  // namespace tendril::state
