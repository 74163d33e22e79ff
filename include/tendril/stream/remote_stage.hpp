// tendril/stream/remote_stage.hpp — a pipeline stage whose work is done by stream workers in
// other processes or on other machines.
//
//   auto hash = tendril::stream::remote_stage<std::string, Digest>(
//       {.endpoint = *tendril::redis::Endpoint::parse("redis://queue:6379"), .stage = "sha256",
//        .max_in_flight = 512});
//   auto pipe = tendril::Pipeline(paths) >> hash >> print;   // workers: stream_worker(...)
//
// Each item is encoded (Codec<In>) and added to the stage's work stream; whichever worker of the
// stage's group takes it runs the handler, and its result comes back on this run's results
// stream, is decoded (Codec<Out>) and flows on to the later stages. At most `max_in_flight`
// items are out at once (backpressure across machines: the producer waits for results); the
// run's metrics count each result as this stage's work. A failed item arrives as the worker's
// error and meets this stage's on_error and dead_letter like a local failure. Cancelling the run
// deletes its results stream, and workers drop its remaining entries. Delivery is at least
// once; a duplicate result is dropped here. Results come in the order they are done, or with
// `ordered` in the order items came in (a result waits for those before it, its seat held).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tendril/pipeline/detail/channel.hpp"
#include "tendril/pipeline/detail/lane.hpp"
#include "tendril/pipeline/detail/reorderer.hpp"
#include "tendril/pipeline/detail/run_context.hpp"
#include "tendril/pipeline/detail/stage_worker.hpp"
#include "tendril/pipeline/stage.hpp"
#include "tendril/redis/endpoint.hpp"
#include "tendril/stream/codec.hpp"
#include "tendril/stream/detail/remote_channel.hpp"
#include "tendril/stream/remote_stats.hpp"

namespace tendril::stream {

template <class In, class Out>
struct RemoteOptions {
  redis::Endpoint endpoint;
  std::string stage;                // the stage's name: its keys, and its name in metrics
  std::size_t max_in_flight = 256;  // items sent and not yet answered, at most
  std::size_t buffer = 64;          // items waiting here to be sent
  bool ordered = false;             // pass results on in input order (held back until then)
  // Queued items packed into one work entry, at most: Redis then does one entry's work for
  // them all (throughput), but one worker thread runs them one after another (latency). For
  // handlers that take milliseconds, or wait (flow jobs), use a few, or 1.
  std::size_t items_per_entry = 64;
  OnError on_error = OnError::drop;  // for items the workers failed
  std::function<void(const In&, const Error&)> dead_letter = {};
  // When set, receives the run's wire statistics as the run ends (the last run's, if several).
  std::shared_ptr<RemoteStats> stats = {};
};

namespace detail {

template <class In, class Out, template <class> class Codec>
class RemoteStageNode final : public tendril::detail::NodeBase,
                              public tendril::detail::Inlet<In>,
                              public tendril::detail::Runner {
  template <class T>
  using Carried = tendril::detail::Carried<T>;
  template <class T>
  using Envelope = tendril::detail::Envelope<T>;
  using Lease = tendril::detail::Lease;

 public:
  RemoteStageNode(const RemoteOptions<In, Out>& remote, const PoolOptions<In, Out>& options,
                  std::string name, tendril::detail::Inlet<Out>& downstream,
                  tendril::detail::RunContext& context)
      : core_(options, std::move(name), downstream, context),
        keep_item_(static_cast<bool>(options.dead_letter)),
        ordered_(remote.ordered),
        stats_(remote.stats),
        lane_(options.buffer, options.num_workers),
        reorderer_(2 * options.num_workers + options.buffer),
        channel_(remote.endpoint, remote.stage, remote.items_per_entry,
                 [this](RemoteResult&& result) { finished(std::move(result)); }) {
    for (std::size_t i = 0; i < options.num_workers; ++i)
      seats_.push_back(
          std::make_unique<Seat>(WorkerState(core_.name, i, context.stop_token()), 0, false));
    if (auto opened = channel_.open(); !opened) open_error_ = opened.error();
    context.on_abort([this] {
      lane_.abort();
      reorderer_.abort();
      channel_.close();  // workers drop what is left of this run
    });
  }
  ~RemoteStageNode() override {
    channel_.close();
    if (stats_) *stats_ = channel_.stats();
  }

  // NodeBase
  std::size_t workers() const override { return seats_.size(); }
  std::size_t threads() const override { return 0; }  // the work is elsewhere
  tendril::detail::Runner& runner() override { return *this; }
  void bind(tendril::detail::Scheduler& scheduler) override {
    scheduler_ = &scheduler;
    queued_items_ = &scheduler.queued_items();
    lane_.bind(scheduler);
  }
  StageMetrics metrics() const override { return core_.metrics(seats_, lane_.high_water()); }

  // Inlet
  bool can_accept() const override { return lane_.has_free_seat() || lane_.has_room(); }
  bool has_free_worker() const override { return lane_.has_free_seat(); }
  void accept(Envelope<In>&& item, Lease& upstream) override {
    if (open_error_) {
      core_.context.fail(*open_error_);
      upstream.release();
      return;
    }
    lane_.accept(
        std::move(item), upstream, ordered_,
        [this](std::uint32_t seat, Envelope<In>&& admitted) { start(seat, std::move(admitted)); });
  }

  // Runner: results that came back first, then items waiting for a seat.
  bool try_run() override {
    if (done_size_.load(std::memory_order_acquire) > 0) {
      std::unique_lock lock(done_mutex_);
      if (!done_.empty()) {
        RemoteResult done = std::move(done_.front());
        done_.pop_front();
        done_size_.fetch_sub(1, std::memory_order_relaxed);
        queued_items_->fetch_sub(1, std::memory_order_relaxed);
        lock.unlock();
        pass_on(std::move(done));
        return true;
      }
    }
    std::uint32_t seat;
    Envelope<In> item;
    if (!lane_.take(seat, item, ordered_)) return false;
    start(seat, std::move(item));
    return true;
  }
  bool runnable() const override {
    return done_size_.load(std::memory_order_relaxed) > 0 || lane_.runnable();
  }
  bool drained() const override {
    return in_flight_.load() == 0 && done_size_.load() == 0 && lane_.empty();
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Seat : tendril::detail::StageWorker<int> {
    using tendril::detail::StageWorker<int>::StageWorker;
    std::optional<In> item;  // kept for the dead letter
    Clock::time_point sent;
    std::uint64_t order = 0;  // the item's number in input order (ordered stages)
  };

  // On a scheduler thread, seat held: send the item.
  void start(std::uint32_t index, Envelope<In>&& envelope) {
    Seat& seat = *seats_[index];
    seat.order = envelope.seq;
    Carried<In>& input = envelope.value;
    if (!input) {  // an upstream error passes through untouched
      Lease lease(&lane_, index);
      return emit(seat, Envelope<Out>{std::unexpected(std::move(input.error()))}, lease);
    }
    seat.item.reset();
    if constexpr (std::is_copy_constructible_v<In>) {
      if (keep_item_) seat.item.emplace(*input);
    }
    seat.sent = Clock::now();
    in_flight_.fetch_add(1);
    channel_.send(index, Codec<In>::encode(*input));
  }

  // On the channel's receiver thread: a result came back.
  void finished(RemoteResult&& result) {
    Seat& seat = *seats_[result.tag];
    seat.counters.busy += Clock::now() - seat.sent;
    {
      std::lock_guard lock(done_mutex_);
      done_.push_back(std::move(result));
      done_size_.fetch_add(1);
    }
    queued_items_->fetch_add(1, std::memory_order_release);
    in_flight_.fetch_sub(1);
    scheduler_->notify_work();
  }

  // On a scheduler thread: decode, count, send on.
  void pass_on(RemoteResult&& result) {
    Seat& seat = *seats_[result.tag];
    Lease lease(&lane_, result.tag);
    Carried<Out> value = tendril::detail::carried_error(std::move(result.error));
    if (result.ok) {
      auto decoded = Codec<Out>::decode(result.data);
      value = decoded ? Carried<Out>(std::move(*decoded))
                      : tendril::detail::carried_error(std::move(decoded.error()));
    }
    if (value) {
      ++seat.counters.processed;
      return emit(seat, Envelope<Out>{std::move(value)}, lease);
    }
    if (core_.context.stopped()) return;  // abandoned by the cancel, not failed
    ++seat.counters.failed;
    Error error = core_.failed(std::move(*value.error()), value.error()->attempts);
    if (core_.settle(error, seat.item ? &*seat.item : nullptr))
      return emit(seat, Envelope<Out>{tendril::detail::carried_error(std::move(error))}, lease);
    if (ordered_) reorderer_.deliver(seat.order, std::nullopt, core_.downstream, *scheduler_);
  }

  // Downstream now, or (ordered) once every item before it has gone.
  void emit(Seat& seat, Envelope<Out>&& out, Lease& lease) {
    if (!ordered_) return core_.downstream.accept(std::move(out), lease);
    reorderer_.deliver(seat.order, std::optional<Envelope<Out>>(std::move(out)), core_.downstream,
                       *scheduler_);
  }

  const tendril::detail::StageCore<In, Out> core_;
  const bool keep_item_;
  const bool ordered_;
  const std::shared_ptr<RemoteStats> stats_;
  tendril::detail::Scheduler* scheduler_ = nullptr;
  std::atomic<std::size_t>* queued_items_ = nullptr;
  tendril::detail::Lane<In> lane_;
  tendril::detail::Reorderer<Out> reorderer_;
  std::vector<std::unique_ptr<Seat>> seats_;
  std::atomic<std::size_t> in_flight_{0};
  std::optional<Error> open_error_;

  std::mutex done_mutex_;
  std::deque<RemoteResult> done_;  // guarded by done_mutex_
  std::atomic<std::size_t> done_size_{0};
  RemoteChannel channel_;  // last: its threads stop before the rest goes
};

}  // namespace detail

// A Stage<In, Out> done by the stream workers of `options.stage` (see worker.hpp).
template <class In, class Out, template <class> class Codec = JsonCodec>
Stage<In, Out> remote_stage(RemoteOptions<In, Out> options) {
  static_assert(CodecFor<Codec, In> && CodecFor<Codec, Out>,
                "the codec must have encode() and decode() for the stage's types");
  if (options.stage.empty())
    tendril::detail::throw_invalid_stage("a remote stage needs its stage name");
  if (options.max_in_flight < 1)
    tendril::detail::throw_invalid_stage("max_in_flight must be at least 1");
  PoolOptions<In, Out> pool{.buffer = std::max<std::size_t>(options.buffer, 1),
                            .retries = 1,
                            .num_workers = options.max_in_flight,
                            .ordered = options.ordered,
                            .on_error = options.on_error,
                            .dead_letter = options.dead_letter,
                            .name = options.stage};
  tendril::detail::validate(pool);
  auto spec = std::make_shared<tendril::detail::StageSpec<In, Out>>();
  spec->options = std::move(pool);
  spec->async_node = [remote = std::move(options)](const PoolOptions<In, Out>& pool_options,
                                                   std::string name,
                                                   tendril::detail::InletBase& downstream,
                                                   tendril::detail::RunContext& context) {
    auto node = std::make_unique<detail::RemoteStageNode<In, Out, Codec>>(
        remote, pool_options, std::move(name),
        static_cast<tendril::detail::Inlet<Out>&>(downstream), context);
    tendril::detail::InletBase* inlet = static_cast<tendril::detail::Inlet<In>*>(node.get());
    return tendril::detail::BuiltNode{std::move(node), inlet};
  };
  return Stage<In, Out>(std::move(spec));
}

}  // namespace tendril::stream
