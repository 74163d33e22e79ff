#include "tendril/stream/worker.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "entries.hpp"
#include "tendril/core/retry.hpp"
#include "tendril/redis/connection.hpp"
#include "tendril/stream/keys.hpp"

namespace tendril::stream {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using detail::Entry;

namespace {

thread_local std::string item_key;  // current_item_key(): set around each handler call

// Reconnecting after a failure: 50 ms, doubling up to 2 s.
constexpr RetryPolicy kReconnect{
    .attempts = RetryPolicy::kUnbounded, .delay = 50ms, .backoff = 2.0, .max_delay = 2s};

void check(const WorkerOptions& o) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("stream worker: " + what); };
  if (o.stage.empty()) bad("stage must name the remote stage");
  if (o.num_workers < 1) bad("num_workers must be at least 1, got 0");
  if (o.retries < 1) bad("retries counts total attempts and must be at least 1");
  if (o.max_deliveries < 1) bad("max_deliveries must be at least 1");
  if (o.batch < 1) bad("batch must be at least 1");
  if (o.min_idle < 10ms) bad("min_idle must be at least 10 ms");
  if (o.block >= o.endpoint.timeout)
    bad("block (" + std::to_string(o.block.count()) +
        " ms) must be below the endpoint's timeout (" + std::to_string(o.endpoint.timeout.count()) +
        " ms), or every idle read fails");
}

}  // namespace

struct StreamWorker::Impl {
  Impl(WorkerOptions o, EntryHandler h)
      : options(std::move(o)), handler(std::move(h)), keys(options.stage) {
    if (options.consumer.empty()) options.consumer = detail::default_consumer_name();
  }

  WorkerOptions options;
  EntryHandler handler;
  StreamKeys keys;
  std::stop_source stopping;

  // The upkeep thread trims every kTrimEvery, or sooner once kTrimAfter entries were acked.
  static constexpr auto kTrimEvery = 50ms;
  static constexpr std::uint64_t kTrimAfter = 256;
  std::atomic<std::uint64_t> acked_since_trim{0};
  std::condition_variable upkeep_wake;

  mutable std::mutex mutex;
  WorkerStats totals;                          // guarded by mutex
  std::vector<std::set<std::string>> working;  // guarded by mutex: ids each thread works on

  bool stop_requested() const { return stopping.stop_requested(); }
  std::string stats_error() const {
    std::lock_guard lock(mutex);
    return totals.last_error;
  }
  std::string consumer_name(std::size_t i) const {
    return options.consumer + "-" + std::to_string(i);
  }
  template <class F>
  void count(F change) {
    std::lock_guard lock(mutex);
    change(totals);
  }

  // A connection and the group (made if missing), or nullopt after a backoff.
  std::optional<redis::Connection> connect(int& failures) {
    while (!stop_requested()) {
      auto opened = redis::Connection::open(options.endpoint);
      if (opened && ensure_group(*opened)) {
        failures = 0;
        return std::move(*opened);
      }
      if (!opened) count([&](WorkerStats& s) { s.last_error = opened.error().message; });
      ++failures;
      detail::sleep_unless(kReconnect.delay_before(failures + 1), [&] { return stop_requested(); });
    }
    return std::nullopt;
  }

  bool ensure_group(redis::Connection& connection) {
    auto made = connection.command({"XGROUP", "CREATE", keys.work, keys.group, "0", "MKSTREAM"});
    if (made || made.error().message.find("BUSYGROUP") != std::string::npos) return true;
    count([&](WorkerStats& s) { s.last_error = made.error().message; });
    return false;
  }

  // One consumer thread.
  void serve(std::size_t index) {
    const std::string me = consumer_name(index);
    WorkerState state(options.stage, index);
    int failures = 0;
    while (!stop_requested()) {
      auto connection = connect(failures);
      if (!connection) return;
      if (!serve_connected(*connection, me, index, state)) {
        {
          std::lock_guard lock(mutex);
          working[index].clear();  // read again from the pending history after reconnecting
        }
        count([&](WorkerStats& s) { ++s.reconnects; });
        ++failures;
        detail::sleep_unless(kReconnect.delay_before(failures + 1),
                             [&] { return stop_requested(); });
      }
    }
  }

  // `command`, sent in one round trip after the batch outcomes not yet written (`unsent`: one
  // MULTI ... EXEC). Once they are written, the batch's lease ends and `unsent` is empty. An
  // error reply to `command` is a refused Error, as Connection::command gives.
  redis::RedisResult<redis::Reply> send_with(redis::Connection& connection, std::size_t index,
                                             redis::Commands& unsent, std::size_t acked,
                                             const std::vector<std::string>& command) {
    const std::size_t writes = unsent.size();
    unsent.begin(command.size());
    for (const auto& a : command) unsent.arg(a);
    auto replies = connection.pipeline(unsent);
    unsent.clear();
    if (!replies) return std::unexpected(replies.error());
    if (writes > 0) {
      for (std::size_t i = 0; i < writes; ++i)
        if ((*replies)[i].type == redis::Reply::Type::error)
          return std::unexpected(Error{ErrorKind::refused, (*replies)[i].text});
      for (const auto& r : (*replies)[writes - 1].elements)  // EXEC: each command's own reply
        if (r.type == redis::Reply::Type::error)
          return std::unexpected(Error{ErrorKind::refused, r.text});
      {
        std::lock_guard lock(mutex);
        working[index].clear();
      }
      if (acked_since_trim.fetch_add(acked) + acked >= kTrimAfter) upkeep_wake.notify_one();
    }
    redis::Reply& last = replies->back();
    if (last.type == redis::Reply::Type::error)
      return std::unexpected(Error{ErrorKind::refused, "Redis refused: " + last.text});
    return std::move(last);
  }

  // Until stopped (true) or the connection fails (false). Reads its own pending history first.
  // A batch's outcomes go out with the next read, in one round trip.
  bool serve_connected(redis::Connection& connection, const std::string& me, std::size_t index,
                       WorkerState& state) {
    redis::Commands unsent;
    std::size_t unsent_acks = 0;
    std::map<std::string, Clock::time_point> live_runs;  // results streams seen, and when
    bool history = true;
    auto next_claim = Clock::now();
    const std::string count_text = std::to_string(options.batch);
    while (!stop_requested()) {
      std::vector<Entry> batch;
      bool counted = false;  // whether the batch's delivery counts must be asked for
      if (!history && Clock::now() >= next_claim) {
        next_claim = Clock::now() + std::max<std::chrono::milliseconds>(options.min_idle / 2, 10ms);
        auto claimed =
            send_with(connection, index, unsent, unsent_acks,
                      {"XAUTOCLAIM", keys.work, keys.group, me,
                       std::to_string(options.min_idle.count()), "0-0", "COUNT", count_text});
        if (!claimed) return failed(claimed.error());
        if (claimed->elements.size() >= 2) batch = detail::entry_list(claimed->elements[1]);
        std::erase_if(batch, [](const Entry& e) { return e.deleted; });
        if (!batch.empty()) {
          count([&](WorkerStats& s) { s.claimed += batch.size(); });
          counted = true;
        }
      }
      if (batch.empty()) {
        std::vector<std::string> read{"XREADGROUP", "GROUP", keys.group, me, "COUNT", count_text};
        if (!history) read.insert(read.end(), {"BLOCK", std::to_string(options.block.count())});
        read.insert(read.end(), {"STREAMS", keys.work, history ? "0" : ">"});
        auto reply = send_with(connection, index, unsent, unsent_acks, read);
        if (!reply) {
          if (reply.error().message.find("NOGROUP") != std::string::npos) {
            if (!ensure_group(connection)) return false;
            continue;
          }
          return failed(reply.error());
        }
        batch = detail::read_entries(*reply);
        if (history && batch.empty()) {
          history = false;
          continue;
        }
        counted = history;
        // Trimmed while pending: nothing to run; acknowledged so that it leaves the PEL.
        std::vector<std::string> gone{"XACK", keys.work, keys.group};
        for (const auto& e : batch)
          if (e.deleted) gone.push_back(e.id);
        if (gone.size() > 3 && !connection.command(gone)) return false;
        std::erase_if(batch, [](const Entry& e) { return e.deleted; });
        if (history && batch.empty()) continue;
      }
      if (batch.empty()) continue;
      unsent_acks = batch.size();
      if (!handle(connection, me, index, state, std::move(batch), counted, live_runs, unsent))
        return false;
    }
    // Stopping: what is done is written before the thread ends (if Redis is there to take it;
    // if not, the entries stay pending and are run again).
    if (!unsent.empty()) (void)send_with(connection, index, unsent, unsent_acks, {"PING"});
    return true;
  }

  bool failed(const Error& error) {
    count([&](WorkerStats& s) { s.last_error = error.message; });
    return false;
  }

  // Runs a batch, then writes every outcome and acknowledges every entry in one MULTI/EXEC:
  // all of the batch is answered and acked, or none of it (and it is run again).
  bool handle(redis::Connection& connection, const std::string& me, std::size_t index,
              WorkerState& state, std::vector<Entry> batch, bool counted,
              std::map<std::string, Clock::time_point>& live_runs, redis::Commands& writes) {
    // In one round trip: whether each run's results stream is still there (a run whose stream
    // is gone was cancelled or ended: its entries are dropped; one seen in the last 100 ms is
    // taken as there), and, for entries read again or claimed, how often each was delivered.
    const auto now = Clock::now();
    std::erase_if(live_runs, [&](const auto& seen) { return now - seen.second > 100ms; });
    std::map<std::string, bool> live;
    for (const auto& e : batch)
      if (const auto* reply = e.field("reply")) live.emplace(*reply, true);
    std::vector<std::vector<std::string>> asks;
    for (const auto& [key, _] : live)
      if (!live_runs.contains(key)) asks.push_back({"EXISTS", key});
    if (counted)
      asks.push_back({"XPENDING", keys.work, keys.group, batch.front().id, batch.back().id,
                      std::to_string(batch.size()), me});
    std::map<std::string, long long> deliveries;
    if (!asks.empty()) {
      auto replies = connection.pipeline(asks);
      if (!replies) return failed(replies.error());
      std::size_t i = 0;
      for (auto& [key, alive] : live) {
        if (live_runs.contains(key)) continue;
        alive = (*replies)[i++].integer > 0;
        if (alive) live_runs.emplace(key, now);
      }
      if (counted)
        for (const auto& row : replies->back().elements)
          if (row.elements.size() >= 4) deliveries[row.elements[0].text] = row.elements[3].integer;
    }

    // The whole batch is leased until its outcomes are written, the entries waiting their turn
    // as much as the one running: none idles long enough to be claimed by another consumer.
    {
      std::lock_guard lock(mutex);
      for (const auto& e : batch) working[index].insert(e.id);
    }
    writes.clear();
    writes.add({"MULTI"});
    std::vector<std::string> ack{"XACK", keys.work, keys.group};
    std::size_t next = 0;
    for (; next < batch.size(); ++next) {
      if (stop_requested()) break;  // the rest is handed back below
      const Entry& e = batch[next];
      const long long delivered = counted && deliveries.contains(e.id) ? deliveries[e.id] : 1;
      serve_entry(connection, e, delivered, live, me, state, writes);
      ack.push_back(e.id);
    }
    // Stopping: what was fetched and not begun goes back to the stream for the others.
    for (std::size_t i = next; i < batch.size(); ++i) {
      const Entry& e = batch[i];
      writes.begin(3 + 2 * e.fields.size()).arg("XADD").arg(keys.work).arg("*");
      for (const auto& [key, value] : e.fields) writes.arg(key).arg(value);
      ack.push_back(e.id);
      count([&](WorkerStats& s) { ++s.handed_back; });
    }
    writes.begin(ack.size());
    for (const auto& a : ack) writes.arg(a);
    writes.add({"EXEC"});  // sent with the next read (send_with)
    return true;
  }

  // One entry: its item (fields seq and data) or items (field items), answered into `writes`.
  void serve_entry(redis::Connection& connection, const Entry& e, long long delivered,
                   std::map<std::string, bool>& live, const std::string& me, WorkerState& state,
                   redis::Commands& writes) {
    const std::string* reply = e.field("reply");
    const std::string* seq = e.field("seq");
    const std::string* data = e.field("data");
    const std::string* items = e.field("items");
    std::vector<detail::ItemFrame> frames;
    std::uint64_t single_seq = 0;
    if (items) {
      if (!detail::split_items(*items, frames)) frames.clear();
    } else if (seq && data &&
               std::from_chars(seq->data(), seq->data() + seq->size(), single_seq).ec ==
                   std::errc()) {
      frames.push_back({single_seq, *data});
    }
    if (!reply || frames.empty()) {
      dead_letter(writes, e, "an entry without the fields run, seq, reply and data (or items)",
                  delivered, me);
      return;
    }
    if (!live[*reply]) {
      count([&](WorkerStats& s) { s.dropped += frames.size(); });
      return;
    }
    std::string results;  // framed, for an entry of several items
    auto answer = [&](const detail::ResultFrame& r) {
      if (items) return detail::append_result(results, r);
      if (r.ok) {
        writes.add({"XADD", *reply, "NOMKSTREAM", "*", "seq", *seq, "ok", "1", "data", r.bytes});
      } else {
        writes.add({"XADD", *reply, "NOMKSTREAM", "*", "seq", *seq, "ok", "0", "error", r.bytes,
                    "kind", to_string(r.kind), "attempts", std::to_string(r.attempts)});
      }
    };
    if (delivered > options.max_deliveries) {
      const std::string why =
          "delivered " + std::to_string(delivered) + " times, more than max_deliveries (" +
          std::to_string(options.max_deliveries) + "): a worker died or hung on it";
      dead_letter(writes, e, why, delivered, me);
      for (const auto& f : frames) answer({f.seq, false, ErrorKind::handler, 0, why});
    } else {
      const std::string* run = e.field("run");
      auto checked = Clock::now();
      for (std::size_t i = 0; i < frames.size(); ++i) {
        const auto& f = frames[i];
        // A long entry looks again, every 100 ms, whether its run was cancelled meanwhile.
        if (i > 0 && Clock::now() - checked > 100ms) {
          checked = Clock::now();
          auto exists = connection.command({"EXISTS", *reply});
          if (exists && exists->integer == 0) {
            live[*reply] = false;
            count([&](WorkerStats& s) { s.dropped += frames.size() - i; });
            break;  // its results are not wanted; the entry is acknowledged with the batch
          }
        }
        item_key.assign(run ? *run : std::string_view()).append(":").append(std::to_string(f.seq));
        EntryOutcome outcome = handler(f.bytes, state);
        item_key.clear();
        switch (outcome.kind) {
          case EntryOutcome::Kind::value:
            answer({f.seq, true, ErrorKind::handler, outcome.attempts, outcome.data});
            count([&](WorkerStats& s) {
              ++s.processed;
              s.retried += static_cast<std::uint64_t>(outcome.attempts - 1);
            });
            break;
          case EntryOutcome::Kind::failed:
            answer({f.seq, false, outcome.error_kind, outcome.attempts, outcome.data});
            count([&](WorkerStats& s) {
              ++s.failed;
              s.retried += static_cast<std::uint64_t>(std::max(0, outcome.attempts - 1));
            });
            break;
          case EntryOutcome::Kind::undecodable:
            dead_letter(writes, e, outcome.data, delivered, me, items ? &f : nullptr);
            answer({f.seq, false, ErrorKind::invalid, 0, outcome.data});
            break;
        }
      }
    }
    if (items) writes.add({"XADD", *reply, "NOMKSTREAM", "*", "items", results});
  }

  // The entry to the dead-letter stream with why; with `item`, only that item of a several-item
  // entry (its seq and data in place of the entry's items).
  void dead_letter(redis::Commands& writes, const Entry& e, const std::string& why,
                   long long deliveries, const std::string& me,
                   const detail::ItemFrame* item = nullptr) {
    std::size_t fields = 0;
    for (const auto& [key, value] : e.fields) fields += !(item && key == "items");
    writes.begin(14 + 2 * fields + (item ? 4 : 0));
    for (std::string_view a :
         {std::string_view("XADD"), std::string_view(keys.dead), std::string_view("MAXLEN"),
          std::string_view("~"), std::string_view("10000"), std::string_view("*"),
          std::string_view("id"), std::string_view(e.id), std::string_view("error"),
          std::string_view(why), std::string_view("deliveries")})
      writes.arg(a);
    writes.arg(static_cast<std::uint64_t>(deliveries)).arg("consumer").arg(me);
    for (const auto& [key, value] : e.fields)
      if (!(item && key == "items")) writes.arg(key).arg(value);
    if (item) writes.arg("seq").arg(item->seq).arg("data").arg(item->bytes);
    count([&](WorkerStats& s) { ++s.dead_lettered; });
  }

  // Keeps the leases of items being worked on, and trims the work stream below the oldest entry
  // any group still needs.
  void upkeep() {
    // Trimming often keeps the stream short: one `~` trim removes whole macro nodes, and at
    // most 10,000 entries, so a long period would let a fast stage's stream grow.
    const auto renew_every = std::max<std::chrono::milliseconds>(options.min_idle / 3, 5ms);
    auto next_trim = Clock::now();
    auto next_renewal = Clock::now() + renew_every;
    std::optional<redis::Connection> connection;
    while (!stop_requested()) {
      {
        std::unique_lock lock(mutex);
        upkeep_wake.wait_for(lock, std::min<std::chrono::milliseconds>(renew_every, kTrimEvery),
                             [&] { return stop_requested() || acked_since_trim >= kTrimAfter; });
      }
      if (stop_requested()) return;
      if (!connection) {
        auto opened = redis::Connection::open(options.endpoint);
        if (!opened) continue;  // the consumer threads say why; tried again next tick
        connection.emplace(std::move(*opened));
      }
      if (Clock::now() >= next_trim || acked_since_trim >= kTrimAfter) {
        next_trim = Clock::now() + kTrimEvery;
        acked_since_trim = 0;
        if (!trim(*connection)) {
          connection.reset();
          continue;
        }
      }
      if (Clock::now() < next_renewal) continue;
      next_renewal = Clock::now() + renew_every;
      std::vector<std::vector<std::string>> renewals;
      {
        std::lock_guard lock(mutex);
        for (std::size_t i = 0; i < working.size(); ++i) {
          if (working[i].empty()) continue;
          std::vector<std::string> claim{"XCLAIM", keys.work, keys.group, consumer_name(i), "0"};
          claim.insert(claim.end(), working[i].begin(), working[i].end());
          claim.push_back("JUSTID");
          renewals.push_back(std::move(claim));
        }
      }
      if (!renewals.empty() && !connection->pipeline(renewals)) connection.reset();
    }
  }

  // XTRIM MINID below the oldest entry not yet acknowledged by every group: a group's oldest
  // pending entry, or the first it has not been delivered.
  bool trim(redis::Connection& connection) {
    auto groups = connection.command({"XINFO", "GROUPS", keys.work});
    if (!groups) return false;
    std::optional<StreamId> floor;
    for (const auto& group : groups->elements) {
      std::string name, last;
      for (std::size_t i = 0; i + 1 < group.elements.size(); i += 2) {
        if (group.elements[i].text == "name") name = group.elements[i + 1].text;
        if (group.elements[i].text == "last-delivered-id") last = group.elements[i + 1].text;
      }
      auto pending = connection.command({"XPENDING", keys.work, name});
      if (!pending) return false;
      std::optional<StreamId> needed;
      if (pending->elements.size() >= 2 && pending->elements[0].integer > 0)
        needed = StreamId::parse(pending->elements[1].text);
      else if (auto delivered = StreamId::parse(last))
        needed = delivered->next();
      if (needed && (!floor || *needed < *floor)) floor = needed;
    }
    if (!floor) return true;
    return static_cast<bool>(connection.command({"XTRIM", keys.work, "MINID", "~", floor->text()}));
  }
};

std::string_view current_item_key() noexcept { return item_key; }

StreamWorker::StreamWorker(WorkerOptions options, EntryHandler handler) {
  check(options);
  impl_ = std::make_unique<Impl>(std::move(options), std::move(handler));
}
StreamWorker::StreamWorker(StreamWorker&&) noexcept = default;
StreamWorker& StreamWorker::operator=(StreamWorker&&) noexcept = default;
StreamWorker::~StreamWorker() = default;

const WorkerOptions& StreamWorker::options() const { return impl_->options; }

void StreamWorker::request_stop() { impl_->stopping.request_stop(); }

WorkerStats StreamWorker::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->totals;
}

Result<WorkerStats> StreamWorker::run(std::stop_token stop) {
  Impl& impl = *impl_;
  {
    // Redis down or a wrong password at the start is an error now, not a silent retry loop.
    auto first = redis::Connection::open(impl.options.endpoint);
    if (!first) return std::unexpected(first.error());
    if (!impl.ensure_group(*first))
      return std::unexpected(Error{ErrorKind::refused, impl.stats_error()});
  }
  std::stop_callback forward(stop, [&impl] { impl.stopping.request_stop(); });
  {
    std::lock_guard lock(impl.mutex);
    impl.working.assign(impl.options.num_workers, {});
  }
  std::vector<std::jthread> threads;
  for (std::size_t i = 0; i < impl.options.num_workers; ++i)
    threads.emplace_back([&impl, i] { impl.serve(i); });
  threads.emplace_back([&impl] { impl.upkeep(); });
  threads.clear();  // joins: each thread ends once stop is requested
  return stats();
}

}  // namespace tendril::stream
