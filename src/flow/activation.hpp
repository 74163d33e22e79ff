// src/flow/activation.hpp — one run of a routine's logic on the data its policy took. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tendril/flow/routine.hpp"

namespace tendril::detail {

struct RoutineCell;

class Activation {
 public:
  // An empty activation of `cell`: one this thread recycled when it has one (its buffers kept,
  // so that a steady stream of activations allocates nothing), else a new one. The policy's
  // taker fills data() and item_jobs(), then calls begin().
  static std::unique_ptr<Activation> make(RoutineCell& cell);
  // Once it has ended: drops what it holds (items, jobs) and keeps it for this thread's next
  // make(), up to a few.
  static void recycle(std::unique_ptr<Activation> activation) noexcept;

  void begin(std::shared_ptr<const Json> message, std::shared_ptr<JobContext> job) {
    message_ = std::move(message);
    job_ = std::move(job);
  }

  // The activation running on this thread, or null.
  static Activation* current() noexcept;

  const Routine* routine() const noexcept;
  // Delivers to every slot connected to `event` (see Routine::emit).
  void emit(const EventSpec& event, Json payload);

  RoutineCell& cell() noexcept { return *cell_; }
  const SlotData& data() const noexcept { return data_; }
  SlotData& data() noexcept { return data_; }
  const Json& message() const noexcept { return *message_; }
  JobContext& job() const noexcept { return *job_; }
  const std::shared_ptr<JobContext>& job_ptr() const noexcept { return job_; }
  // The job of every item taken (one entry per item; the same job may repeat).
  const std::vector<std::shared_ptr<JobContext>>& item_jobs() const noexcept { return item_jobs_; }
  std::vector<std::shared_ptr<JobContext>>& item_jobs() noexcept { return item_jobs_; }
  // For a routine that may retry: keeps a copy of the data before the first attempt, which
  // logic may move from, and puts it back before the next.
  void keep_as_delivered() { as_delivered_ = data_; }
  void restore_as_delivered() { data_ = as_delivered_; }

  int attempt = 1;
  std::uint32_t hops = 0;  // the most any item it took had passed through

 private:
  explicit Activation(RoutineCell& cell) : cell_(&cell) {}

  RoutineCell* cell_;
  SlotData data_;
  SlotData as_delivered_;  // kept only for routines that may retry
  std::shared_ptr<const Json> message_;
  std::shared_ptr<JobContext> job_;
  std::vector<std::shared_ptr<JobContext>> item_jobs_;
};

}  // namespace tendril::detail
