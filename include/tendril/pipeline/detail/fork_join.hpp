// tendril/pipeline/detail/fork_join.hpp — a fork_merge stage's fork and join.
//
// Fork: each item is numbered and a copy queued in every worker's lane, under one lock, so every
// lane sees the items in the same order. Join: each worker's outcome is filed under its item's
// number; the thread that files an item's last branch merges the branches — matched by number,
// never by arrival. Thread-safe: any thread may dispatch and join.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "tendril/pipeline/detail/lane.hpp"
#include "tendril/pipeline/detail/stage_worker.hpp"

namespace tendril::detail {

template <class In, class Out>
class ForkJoin {
 public:
  using Outcome = StageOutcome<In, Out>;

  ForkJoin(const PoolOptions<In, Out>& options, const std::string& stage)
      : options_(options), stage_(stage) {}

  // Queues a numbered copy of `item` in every lane; false when a lane was aborted.
  bool dispatch(Envelope<In>&& item, std::vector<std::unique_ptr<Lane<In>>>& lanes) {
    std::lock_guard lock(dispatch_mutex_);
    item.seq = next_seq_++;
    for (std::size_t i = 0; i + 1 < lanes.size(); ++i) {
      if constexpr (std::is_copy_constructible_v<In>) {
        Carried<In> copy =
            item.value ? Carried<In>(*item.value) : carried_error(*item.value.error());
        if (!lanes[i]->enqueue(Envelope<In>{std::move(copy), item.seq})) return false;
      }
    }
    return lanes.back()->enqueue(std::move(item));
  }

  // Files branch `branch` of item `seq`; the merged outcome once every branch is in.
  std::optional<Outcome> join(std::uint64_t seq, std::size_t branch, std::size_t branches,
                              Outcome&& outcome) {
    Cohort complete;
    {
      std::lock_guard lock(cohorts_mutex_);
      Cohort& cohort = cohorts_[seq];
      if (cohort.parts.empty()) cohort.parts.resize(branches);
      cohort.parts[branch].emplace(std::move(outcome.value));
      cohort.failed_here |= outcome.failed_here;
      if (!cohort.item && outcome.item) cohort.item = std::move(outcome.item);
      if (++cohort.arrived < branches) return std::nullopt;
      complete = std::move(cohort);
      cohorts_.erase(seq);
    }
    return merge(std::move(complete));
  }

 private:
  struct Cohort {  // the branches of one item
    std::vector<std::optional<Carried<Out>>> parts = {};
    std::size_t arrived = 0;
    bool failed_here = false;
    std::optional<In> item = {};
  };

  // The first failed branch fails the item; else fork_merge makes one value of them all.
  Outcome merge(Cohort&& cohort) const {
    std::vector<Out> values;
    values.reserve(cohort.parts.size());
    for (auto& part : cohort.parts) {
      if (!*part) return Outcome{std::move(*part), cohort.failed_here, std::move(cohort.item)};
      values.push_back(std::move(**part));
    }
    try {
      return Outcome{options_.fork_merge(std::move(values))};
    } catch (...) {
      Error failure = error_from(std::current_exception());
      failure.kind = ErrorKind::handler;  // a KillSwitch in a merge fails only its item
      failure.message = "fork_merge failed: " + failure.message;
      failure.stage = stage_;
      failure.attempts = 1;
      return Outcome{carried_error(std::move(failure)), true, std::move(cohort.item)};
    }
  }

  const PoolOptions<In, Out>& options_;
  const std::string& stage_;
  std::mutex dispatch_mutex_;   // numbers and copies items
  std::uint64_t next_seq_ = 0;  // guarded by dispatch_mutex_
  std::mutex cohorts_mutex_;
  std::unordered_map<std::uint64_t, Cohort> cohorts_;  // guarded by cohorts_mutex_
};

}  // namespace tendril::detail
