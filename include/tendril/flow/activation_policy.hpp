// tendril/flow/activation_policy.hpp — when a routine runs, and what it takes from its slots.
//
// | policy              | runs when                              | takes                      |
// |---------------------|----------------------------------------|----------------------------|
// | immediate (default) | any slot has data                      | everything from every slot |
// | batch_size(n)       | every slot has at least n items        | n from each slot           |
// | all_slots_ready     | every slot has at least one item       | one from each slot         |
// | time_interval(d)    | a slot has data and d has passed since | everything from every slot |
// |                     | the last run; a per-routine timer      |                            |
// |                     | fires it when data waits for the rest  |                            |
// | custom(pred)        | pred(slots) is true                    | everything from every slot |
//
// Each activation's policy message (the logic's second argument) names the policy and what it
// saw: {"policy":"batch_size","batch_size":3}, {"policy":"time_interval","waited_ms":..}, ...
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tendril/core/error.hpp"
#include "tendril/flow/json.hpp"

namespace tendril {

// What a policy sees: each slot's name and its queued payloads (oldest first).
class SlotsView {
 public:
  virtual ~SlotsView() = default;
  virtual std::size_t slot_count() const = 0;
  virtual const std::string& slot_name(std::size_t index) const = 0;
  virtual std::size_t queued(std::size_t index) const = 0;
  virtual const Json& peek(std::size_t index, std::size_t position) const = 0;
  // The queued count of the slot called `name`; 0 for a slot the routine does not have.
  std::size_t queued(std::string_view name) const;
  bool any_queued() const;
};

class ActivationPolicy {
 public:
  enum class Kind { immediate, batch_size, all_slots_ready, time_interval, custom };
  using Clock = std::chrono::steady_clock;
  using Predicate = std::function<bool(const SlotsView&)>;

  static constexpr std::size_t kMaxBatch = 1'000'000;
  static constexpr std::chrono::milliseconds kMaxInterval = std::chrono::hours(24 * 30);

  // Out-of-range arguments are a UsageError naming the range.
  static ActivationPolicy immediate();
  static ActivationPolicy batch_size(std::size_t n);  // 1 to kMaxBatch
  static ActivationPolicy all_slots_ready();
  static ActivationPolicy time_interval(std::chrono::milliseconds interval);  // 1 ms to 30 days
  static ActivationPolicy custom(Predicate predicate, std::string name = "custom");

  ActivationPolicy() : ActivationPolicy(immediate()) {}

  Kind kind() const noexcept { return kind_; }
  std::size_t batch() const noexcept { return batch_; }
  std::chrono::milliseconds interval() const noexcept { return interval_; }
  const std::string& name() const noexcept { return name_; }

  // The policy's decision for the slots as they are now.
  struct Decision {
    enum { wait, run, run_later } verdict = wait;
    std::vector<std::size_t> take;        // per slot, when run
    std::shared_ptr<const Json> message;  // the policy message, when run (shared, not copied)
    Clock::time_point due{};              // when run_later: when to look again
  };
  Decision decide(const SlotsView& slots, Clock::time_point now,
                  std::optional<Clock::time_point> last_run) const;
  // The same into `out`, reusing its buffers (the runtime keeps one per thread).
  void decide(const SlotsView& slots, Clock::time_point now,
              std::optional<Clock::time_point> last_run, Decision& out) const;

  // {"type":"batch_size","n":3}, {"type":"time_interval","ms":500}, ...; a custom policy has no
  // JSON form (to_json says so with an error).
  Result<Json> to_json() const;
  // `where` prefixes errors, e.g. "/routines/counter/policy".
  static Result<ActivationPolicy> from_json(const Json& json, const std::string& where);

 private:
  ActivationPolicy(Kind kind, std::string name) : kind_(kind), name_(std::move(name)) {}
  Kind kind_;
  std::string name_;
  std::shared_ptr<const Json> message_;  // the same for every activation, but time_interval's
  std::size_t batch_ = 1;
  std::chrono::milliseconds interval_{0};
  Predicate predicate_;
};

// Seed spellings.
inline ActivationPolicy immediate_policy() { return ActivationPolicy::immediate(); }
inline ActivationPolicy batch_size_policy(std::size_t n) { return ActivationPolicy::batch_size(n); }
inline ActivationPolicy all_slots_ready_policy() { return ActivationPolicy::all_slots_ready(); }
inline ActivationPolicy time_interval_policy(std::chrono::milliseconds d) {
  return ActivationPolicy::time_interval(d);
}
inline ActivationPolicy custom_policy(ActivationPolicy::Predicate p) {
  return ActivationPolicy::custom(std::move(p));
}

}  // namespace tendril
