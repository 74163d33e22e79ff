#include "tendril/stream/detail/remote_channel.hpp"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "entries.hpp"
#include "tendril/core/retry.hpp"
#include "tendril/redis/connection.hpp"
#include "tendril/stream/keys.hpp"

namespace tendril::stream::detail {

using namespace std::chrono_literals;

namespace {

constexpr RetryPolicy kReconnect{
    .attempts = RetryPolicy::kUnbounded, .delay = 50ms, .backoff = 2.0, .max_delay = 2s};
constexpr std::size_t kSendBatch = 256;  // items per round trip, at most
constexpr std::size_t kBytesPerEntry = 256 * 1024;
constexpr std::size_t kReadBatch = 512;

ErrorKind kind_named(const std::string& name) {
  for (ErrorKind kind :
       {ErrorKind::handler, ErrorKind::source, ErrorKind::cancelled, ErrorKind::kill_switch,
        ErrorKind::usage, ErrorKind::invalid, ErrorKind::not_found, ErrorKind::queue_full,
        ErrorKind::stopped, ErrorKind::connection, ErrorKind::refused})
    if (name == to_string(kind)) return kind;
  return ErrorKind::handler;
}

}  // namespace

struct RemoteChannel::Impl {
  Impl(redis::Endpoint e, std::string stage, std::size_t per_entry,
       std::function<void(RemoteResult&&)> callback)
      : endpoint(std::move(e)),
        items_per_entry(std::max<std::size_t>(per_entry, 1)),
        keys(stage),
        run(random_hex()),
        results(keys.results(run)),
        on_result(std::move(callback)) {}

  redis::Endpoint endpoint;
  std::size_t items_per_entry;  // packed into one entry, at most
  StreamKeys keys;
  std::string run;
  std::string results;
  std::function<void(RemoteResult&&)> on_result;

  mutable std::mutex mutex;
  std::condition_variable wake;
  bool closing = false;             // guarded by mutex
  bool resend_all = false;          // guarded by mutex: a connection failed
  std::deque<std::uint64_t> queue;  // guarded by mutex: seqs to send
  struct Outstanding {
    std::uint32_t tag;
    std::string payload;
  };
  std::map<std::uint64_t, Outstanding> outstanding;  // guarded by mutex: sent, not answered
  std::uint64_t next_seq = 0;                        // guarded by mutex
  RemoteStats totals;                                // guarded by mutex
  std::thread sender, receiver;
  bool closed = false;
  long long receiver_client = -1;  // guarded by mutex: its CLIENT ID, so close() can unblock it

  bool is_closing() {
    std::lock_guard lock(mutex);
    return closing;
  }

  void connection_failed(const Error& error) {
    std::lock_guard lock(mutex);
    totals.last_error = error.message;
    ++totals.reconnects;
    resend_all = true;
    wake.notify_all();
  }

  std::optional<redis::Connection> connect() {
    int failures = 0;
    while (!is_closing()) {
      auto opened = redis::Connection::open(endpoint);
      if (opened) return std::move(*opened);
      {
        std::lock_guard lock(mutex);
        totals.last_error = opened.error().message;
      }
      ++failures;
      sleep_unless(kReconnect.delay_before(failures + 1), [&] { return is_closing(); });
    }
    return std::nullopt;
  }

  // The results stream, empty, made if missing (after a Redis restart that lost it too), so
  // that workers' NOMKSTREAM answers land.
  static Result<void> make_results(redis::Connection& connection, const std::string& key) {
    auto made = connection.command({"XGROUP", "CREATE", key, "tendril-run", "$", "MKSTREAM"});
    if (made || made.error().message.find("BUSYGROUP") != std::string::npos) return {};
    return std::unexpected(made.error());
  }

  redis::Commands outgoing;  // the sender thread's
  std::string frames;        // the sender thread's

  void send_loop(redis::Connection first) {
    std::optional<redis::Connection> connection(std::move(first));
    for (;;) {
      std::vector<std::uint64_t> batch;
      redis::Commands& commands = outgoing;
      commands.clear();
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return closing || resend_all || !queue.empty(); });
        if (closing) return;
        if (resend_all) {
          resend_all = false;
          queue.clear();
          for (const auto& [seq, _] : outstanding) queue.push_back(seq);
          totals.resent += queue.size();
        }
        // What is queued goes out packed: one entry for up to items_per_entry items, so that
        // under load Redis does one entry's work for many; alone, an item has its own fields.
        std::vector<std::pair<std::uint64_t, const std::string*>> group;
        std::size_t group_bytes = 0;
        auto flush_group = [&] {
          if (group.size() == 1) {
            commands.begin(11).arg("XADD").arg(keys.work).arg("*").arg("run").arg(run).arg("seq");
            commands.arg(group[0].first)
                .arg("reply")
                .arg(results)
                .arg("data")
                .arg(*group[0].second);
          } else if (!group.empty()) {
            frames.clear();
            for (const auto& [seq, payload] : group) append_item(frames, seq, *payload);
            commands.add({"XADD", keys.work, "*", "run", run, "reply", results, "items", frames});
          }
          group.clear();
          group_bytes = 0;
        };
        while (!queue.empty() && batch.size() < kSendBatch) {
          const std::uint64_t seq = queue.front();
          queue.pop_front();
          auto found = outstanding.find(seq);
          if (found == outstanding.end()) continue;  // answered meanwhile
          batch.push_back(seq);
          const std::string& payload = found->second.payload;
          if (group.size() == items_per_entry ||
              (!group.empty() && group_bytes + payload.size() > kBytesPerEntry))
            flush_group();
          group.emplace_back(seq, &payload);
          group_bytes += payload.size() + 12;
        }
        flush_group();
      }
      if (commands.empty()) continue;
      if (!connection) connection = connect();
      if (!connection) return;  // closing
      auto replies = connection->pipeline(commands);
      bool refused = false;
      if (replies)
        for (const auto& r : *replies) refused = refused || r.type == redis::Reply::Type::error;
      if (!replies || refused) {
        connection.reset();
        connection_failed(replies ? Error{ErrorKind::refused, "Redis refused an XADD"}
                                  : replies.error());
        sleep_unless(200ms, [&] { return is_closing(); });
        continue;  // resend_all is set: every unanswered item goes again
      }
      std::lock_guard lock(mutex);
      totals.sent += batch.size();
    }
  }

  void receive_loop(redis::Connection first) {
    std::optional<redis::Connection> connection(std::move(first));
    std::string last = "0-0";
    std::optional<StreamId> trim_below;
    const auto block = std::min<std::chrono::milliseconds>(200ms, endpoint.timeout / 2);
    while (!is_closing()) {
      if (!connection) {
        connection = connect();
        if (!connection) return;
        if (!make_results(*connection, results) || !note_client_id(*connection)) {
          connection.reset();
          continue;
        }
      }
      // What was read is not needed again: it is trimmed away in the next read's round trip,
      // so that the results stream holds only what is unread.
      std::vector<std::vector<std::string>> commands;
      if (trim_below) commands.push_back({"XTRIM", results, "MINID", trim_below->text()});
      commands.push_back({"XREAD", "COUNT", std::to_string(kReadBatch), "BLOCK",
                          std::to_string(block.count()), "STREAMS", results, last});
      auto replies = connection->pipeline(commands);
      if (!replies) {
        connection.reset();
        connection_failed(replies.error());
        continue;
      }
      trim_below.reset();
      const auto entries = read_entries(replies->back());
      if (entries.empty()) continue;
      for (const auto& entry : entries) deliver(entry);
      last = entries.back().id;
      if (auto id = StreamId::parse(last)) trim_below = id->next();
    }
  }

  bool note_client_id(redis::Connection& connection) {
    auto id = connection.command({"CLIENT", "ID"});
    if (!id) return false;
    std::lock_guard lock(mutex);
    receiver_client = id->integer;
    return true;
  }

  void deliver(const Entry& entry) {
    if (const std::string* items = entry.field("items")) {
      std::vector<ResultFrame> answered;
      split_results(*items, answered);  // what is malformed is not answered: sent again later
      for (const ResultFrame& r : answered) {
        // The bytes are the output or the error's message, never both: copied once.
        Error error{.kind = r.kind, .attempts = r.attempts};
        if (!r.ok) error.message = r.bytes;
        deliver_one(r.seq, r.ok, r.ok ? std::string(r.bytes) : std::string(), std::move(error));
      }
      return;
    }
    const std::string* seq_text = entry.field("seq");
    std::uint64_t seq = 0;
    if (!seq_text ||
        std::from_chars(seq_text->data(), seq_text->data() + seq_text->size(), seq).ec !=
            std::errc())
      return;
    const std::string* ok = entry.field("ok");
    const bool succeeded = ok && *ok == "1";
    Error error;
    if (!succeeded) {
      const std::string* message = entry.field("error");
      const std::string* kind = entry.field("kind");
      const std::string* attempts = entry.field("attempts");
      error.kind = kind ? kind_named(*kind) : ErrorKind::handler;
      error.message = message ? *message : "a worker failed the item";
      if (attempts)
        std::from_chars(attempts->data(), attempts->data() + attempts->size(), error.attempts);
    }
    const std::string* data = entry.field("data");
    deliver_one(seq, succeeded, succeeded && data ? *data : std::string(), std::move(error));
  }

  // One item's result, passed on unless it was answered before (a duplicate).
  void deliver_one(std::uint64_t seq, bool ok, std::string data, Error error) {
    RemoteResult result;
    {
      std::lock_guard lock(mutex);
      auto found = outstanding.find(seq);
      if (found == outstanding.end()) {
        ++totals.duplicates;
        return;
      }
      result.tag = found->second.tag;
      outstanding.erase(found);
    }
    result.ok = ok;
    result.data = std::move(data);
    result.error = std::move(error);
    on_result(std::move(result));
  }
};

RemoteChannel::RemoteChannel(redis::Endpoint endpoint, std::string stage,
                             std::size_t items_per_entry,
                             std::function<void(RemoteResult&&)> on_result)
    : impl_(std::make_unique<Impl>(std::move(endpoint), std::move(stage), items_per_entry,
                                   std::move(on_result))) {}

RemoteChannel::~RemoteChannel() { close(); }

Result<void> RemoteChannel::open() {
  auto sending = redis::Connection::open(impl_->endpoint);
  if (!sending) return std::unexpected(sending.error());
  auto receiving = redis::Connection::open(impl_->endpoint);
  if (!receiving) return std::unexpected(receiving.error());
  if (auto made = Impl::make_results(*receiving, impl_->results); !made) return made;
  if (!impl_->note_client_id(*receiving))
    return std::unexpected(Error{ErrorKind::connection, "CLIENT ID failed"});
  impl_->sender =
      std::thread([this, c = std::move(*sending)]() mutable { impl_->send_loop(std::move(c)); });
  impl_->receiver = std::thread(
      [this, c = std::move(*receiving)]() mutable { impl_->receive_loop(std::move(c)); });
  return {};
}

void RemoteChannel::send(std::uint32_t tag, std::string payload) {
  std::lock_guard lock(impl_->mutex);
  const std::uint64_t seq = impl_->next_seq++;
  impl_->outstanding.emplace(seq, Impl::Outstanding{tag, std::move(payload)});
  impl_->queue.push_back(seq);
  impl_->wake.notify_all();
}

void RemoteChannel::close() {
  if (!impl_ || impl_->closed) return;
  impl_->closed = true;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->closing = true;
  }
  impl_->wake.notify_all();
  auto connection = redis::Connection::open(impl_->endpoint);
  if (connection) {
    // The receiver may be inside XREAD BLOCK: wake it now rather than at its timeout.
    long long client = -1;
    {
      std::lock_guard lock(impl_->mutex);
      client = impl_->receiver_client;
    }
    if (client >= 0) (void)connection->command({"CLIENT", "UNBLOCK", std::to_string(client)});
  }
  if (impl_->sender.joinable()) impl_->sender.join();
  if (impl_->receiver.joinable()) impl_->receiver.join();
  if (connection) (void)connection->command({"DEL", impl_->results});
}

RemoteStats RemoteChannel::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->totals;
}

const std::string& RemoteChannel::run_id() const noexcept { return impl_->run; }

}  // namespace tendril::stream::detail
