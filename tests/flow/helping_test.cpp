// help_while_waiting: threads that wait on the runtime run ready routines, and a runtime with
// no pool runs everything on them; PostOptions::wait_for_room.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "support/flow_helpers.hpp"

using namespace flow_test;
using td::Json;

namespace {

// Which threads ran a routine, and how many items it took.
struct Threads {
  std::mutex mutex;
  std::set<std::thread::id> ids;
  int items = 0;
  // Emits every item on "out" when `self` is given.
  td::Routine::Logic logic(td::Routine* self = nullptr) {
    return [this, self](const td::SlotData& in, const Json&, td::FlowWorkerState&) {
      {
        std::lock_guard lock(mutex);
        ids.insert(std::this_thread::get_id());
        items += static_cast<int>(in["in"].size());
      }
      if (self)
        for (const auto& item : in["in"]) self->emit("out", item);
    };
  }
  int count() {
    std::lock_guard lock(mutex);
    return items;
  }
  bool only(std::thread::id id) {
    std::lock_guard lock(mutex);
    return ids.size() == 1 && *ids.begin() == id;
  }
};

struct Helped {
  explicit Helped(std::size_t threads, bool help, td::Clock* clock = nullptr)
      : rt({.thread_pool_size = threads,
            .registry = &registry,
            .clock = clock,
            .help_while_waiting = help}) {}
  td::FlowRegistry registry;
  td::Runtime rt;
};

// Starts flow "narrow": one routine "r" whose one slot "in" holds `capacity` items. Returns the
// worker's id.
std::string start_narrow(Helped& h, std::size_t capacity, td::Routine::Logic logic) {
  td::Flow flow("narrow");
  auto narrow = std::make_unique<td::Routine>();
  narrow->add_slot("in", capacity);
  narrow->set_logic(std::move(logic));
  flow.add_routine(std::move(narrow), "r");
  h.registry.register_by_name("narrow", flow);
  return h.rt.exec("narrow").value();
}

// Posts `n` items to "narrow", each waiting up to 5 s for room; true when all went in.
bool post_waiting(Helped& h, int n) {
  for (int i = 0; i < n; ++i) {
    auto posted = h.rt.post("narrow", "r", "in", {{"n", i}}, {.wait_for_room = 5s});
    if (!posted) {
      ADD_FAILURE() << "post " << i << ": " << posted.error().describe();
      return false;
    }
  }
  return true;
}

}  // namespace

TEST(RuntimeHelping, AnEmptyPoolWithoutHelpingIsAnErrorNamingTheOption) {
  try {
    td::Runtime rt({.thread_pool_size = 0});
    FAIL() << "expected an error";
  } catch (const td::UsageError& e) {
    EXPECT_TRUE(contains(e.what(), "thread_pool_size must be at least 1, got 0"));
    EXPECT_TRUE(contains(e.what(), "0 only with help_while_waiting"));
  }
}

TEST(RuntimeHelping, WithNoPoolAChainRunsOnlyOnTheWaitingThread) {
  Helped h(0, true);
  Threads a, b, c;
  td::Flow flow("chain");
  auto ra = routine({"in"}, {{"out", {}}}, nullptr);
  ra->set_logic(a.logic(ra.get()));
  auto rb = routine({"in"}, {{"out", {}}}, nullptr);
  rb->set_logic(b.logic(rb.get()));
  flow.add_routine(std::move(ra), "a");
  flow.add_routine(std::move(rb), "b");
  flow.add_routine(routine({"in"}, {}, c.logic()), "c");
  flow.connect("a", "out", "b", "in");
  flow.connect("b", "out", "c", "in");
  h.registry.register_by_name("chain", flow);
  ASSERT_TRUE(h.rt.exec("chain"));

  for (int i = 0; i < 100; ++i) ASSERT_TRUE(h.rt.post("chain", "a", "in", {{"n", i}}));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(a.count(), 0);  // no pool: nothing runs until a thread waits

  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(a.count(), 100);
  EXPECT_EQ(c.count(), 100);
  const auto me = std::this_thread::get_id();
  EXPECT_TRUE(a.only(me));
  EXPECT_TRUE(b.only(me));
  EXPECT_TRUE(c.only(me));
}

// The pool's one thread is held inside a routine; only a helping waiter can run the other.
TEST(RuntimeHelping, AWaitingThreadRunsRoutinesWhileThePoolIsBusy) {
  for (const bool help : {false, true}) {
    SCOPED_TRACE(help ? "helping" : "not helping");
    Helped h(1, help);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> holding{false};
    Threads other;
    td::Flow flow("busy");
    flow.add_routine(routine({"in"}, {},
                             [&](auto&, auto&, auto&) {
                               holding = true;
                               released.wait();
                             }),
                     "hold");
    flow.add_routine(routine({"in"}, {}, other.logic()), "other");
    h.registry.register_by_name("busy", flow);
    ASSERT_TRUE(h.rt.exec("busy"));
    ASSERT_TRUE(h.rt.post("busy", "hold", "in", {}));
    ASSERT_TRUE(eventually([&] { return holding.load(); }));
    ASSERT_TRUE(h.rt.post("busy", "other", "in", {}));

    EXPECT_FALSE(h.rt.wait_until_all_jobs_finished(100ms));  // "hold" still holds
    if (help) {
      EXPECT_EQ(other.count(), 1);
      EXPECT_TRUE(other.only(std::this_thread::get_id()));
    } else {
      EXPECT_EQ(other.count(), 0);  // the pool's one thread is held
    }
    release.set_value();
    EXPECT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
    EXPECT_EQ(other.count(), 1);
  }
}

TEST(RuntimeHelping, APostWaitingForRoomRunsTheFullSlotsRoutineWithNoPool) {
  Helped h(0, true);
  Threads r;
  start_narrow(h, 2, r.logic());
  ASSERT_TRUE(post_waiting(h, 10));
  EXPECT_GE(r.count(), 8);  // each post after the second found the slot full and drained it
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(r.count(), 10);
  EXPECT_TRUE(r.only(std::this_thread::get_id()));
}

TEST(RuntimeHelping, APostWaitingForRoomGetsItFromThePoolWhenNotHelping) {
  Helped h(1, false);
  Threads r;
  start_narrow(h, 1, [logic = r.logic()](auto& in, auto& message, auto& state) {
    std::this_thread::sleep_for(1ms);
    logic(in, message, state);
  });
  ASSERT_TRUE(post_waiting(h, 20));
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  EXPECT_EQ(r.count(), 20);
  std::lock_guard lock(r.mutex);
  EXPECT_EQ(r.ids.count(std::this_thread::get_id()), 0u);  // the pool did it all
}

TEST(RuntimeHelping, APostThatWaitsForRoomInVainIsRefusedNamingTheWait) {
  for (const bool help : {false, true}) {
    SCOPED_TRACE(help ? "helping" : "not helping");
    Helped h(1, help);
    const std::string worker = start_narrow(h, 1, [](auto&, auto&, auto&) {});
    ASSERT_TRUE(h.rt.pause(worker));  // nothing drains the slot, not even a helper
    ASSERT_TRUE(h.rt.post("narrow", "r", "in", {}));

    const auto start = std::chrono::steady_clock::now();
    auto refused = h.rt.post("narrow", "r", "in", {}, {.wait_for_room = 50ms});
    const auto waited = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, td::ErrorKind::queue_full);
    EXPECT_EQ(refused.error().message, "slot 'in' of routine 'r' is full (1 items) for 50 ms");
    EXPECT_GE(waited, 50ms);
    ASSERT_TRUE(h.rt.resume(worker));
    EXPECT_TRUE(h.rt.wait_until_all_jobs_finished(10s));  // the refused post is no job
  }
}

// A due timer wakes a napping helper: with no pool, nobody else would run the routine.
TEST(RuntimeHelping, ATimerDueWhileAHelperNapsRunsOnTheHelper) {
  td::ManualClock clock;
  Helped h(0, true, &clock);
  Threads r;
  td::Flow flow("timed");
  auto timed = routine({"in"}, {}, r.logic());
  timed->set_activation_policy(td::ActivationPolicy::time_interval(1s));
  flow.add_routine(std::move(timed), "r");
  h.registry.register_by_name("timed", flow);
  ASSERT_TRUE(h.rt.exec("timed"));

  ASSERT_TRUE(h.rt.post("timed", "r", "in", {}));
  ASSERT_TRUE(h.rt.wait_until_all_jobs_finished(10s));  // the first runs at once
  ASSERT_EQ(r.count(), 1);
  ASSERT_TRUE(h.rt.post("timed", "r", "in", {}));  // the next waits out the interval

  std::thread::id helper;
  auto waited = std::async(std::launch::async, [&] {
    helper = std::this_thread::get_id();
    const auto start = std::chrono::steady_clock::now();
    const bool finished = h.rt.wait_until_all_jobs_finished(60s);
    return std::make_pair(finished, std::chrono::steady_clock::now() - start);
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(r.count(), 1);
  clock.advance(1s);
  const auto [finished, took] = waited.get();
  EXPECT_TRUE(finished);
  EXPECT_LT(took, 30s);  // woken by the timer, not by the end of its wait
  EXPECT_EQ(r.count(), 2);
  std::lock_guard lock(r.mutex);
  EXPECT_EQ(r.ids.count(helper), 1u);
}

TEST(RuntimeHelping, ShutdownOfANoPoolRuntimeDrainsOnTheCallingThread) {
  Helped h(0, true);
  Threads r;
  td::Flow flow("drain");
  flow.add_routine(routine({"in"}, {}, r.logic()), "r");
  h.registry.register_by_name("drain", flow);
  auto worker = h.rt.exec("drain").value();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(h.rt.post("drain", "r", "in", {{"n", i}}));
  h.rt.shutdown(true, 10s);
  EXPECT_EQ(r.count(), 50);
  EXPECT_TRUE(r.only(std::this_thread::get_id()));
  EXPECT_EQ(h.rt.worker_state(worker)->status(), td::WorkerStatus::completed);
}

// Inside a routine a wait only waits: helping there would run other routines in the middle
// of this one's logic.
TEST(RuntimeHelping, AWaitInsideARoutineDoesNotRunOtherRoutines) {
  Helped h(1, true);
  std::mutex mutex;
  std::vector<std::string> order;
  auto note = [&](std::string what) {
    std::lock_guard lock(mutex);
    order.push_back(std::move(what));
  };
  td::Flow flow("inside");
  flow.add_routine(routine({"in"}, {},
                           [&](auto&, auto&, auto&) {
                             note("waiter starts");
                             EXPECT_FALSE(h.rt.wait_until_all_jobs_finished(50ms));
                             note("waiter ends");
                           }),
                   "waiter");
  flow.add_routine(routine({"in"}, {}, [&](auto&, auto&, auto&) { note("other"); }), "other");
  h.registry.register_by_name("inside", flow);
  auto worker = h.rt.exec("inside").value();
  ASSERT_TRUE(h.rt.pause(worker));  // both queued before the pool's one thread starts either
  ASSERT_TRUE(h.rt.post("inside", "waiter", "in", {}));
  ASSERT_TRUE(h.rt.post("inside", "other", "in", {}));
  ASSERT_TRUE(h.rt.resume(worker));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return order.size() == 3;
  }));
  EXPECT_TRUE(h.rt.wait_until_all_jobs_finished(10s));
  std::lock_guard lock(mutex);
  EXPECT_EQ(order, (std::vector<std::string>{"waiter starts", "waiter ends", "other"}));
}

// A job whose item waits on a policy nothing can satisfy any more: shutdown(wait) sees that
// nothing can move (twice quiet, 10 ms apart) and cancels it rather than waiting out its timeout,
// with a pool and without one.
TEST(RuntimeHelping, ShutdownCancelsJobsThatCanNeverFinishInsteadOfWaitingOutItsTimeout) {
  for (const bool help : {false, true}) {
    SCOPED_TRACE(help ? "no pool, helping" : "a pool");
    Helped h(help ? 0 : 1, help);
    td::Flow flow("pair");
    auto pair = routine({"left", "right"}, {}, [](auto&, auto&, auto&) {});
    pair->set_activation_policy(td::ActivationPolicy::all_slots_ready());
    flow.add_routine(std::move(pair), "pair");
    h.registry.register_by_name("pair", flow);
    const std::string worker = h.rt.exec("pair").value();
    auto posted = h.rt.post("pair", "pair", "left", {});  // "right" never gets an item
    ASSERT_TRUE(posted);

    const auto start = std::chrono::steady_clock::now();
    h.rt.shutdown(true, 60s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    EXPECT_EQ(posted->job->status(), td::JobStatus::cancelled);
    EXPECT_EQ(h.rt.worker_state(worker)->status(), td::WorkerStatus::cancelled);
  }
}

// A post waiting for room in a slot that nothing will drain: a shutdown stops the worker, and
// the post ends at once, refused with the reason, instead of waiting out its wait.
TEST(RuntimeHelping, APostWaitingForRoomEndsWhenShutdownStopsItsWorker) {
  Helped h(1, false);
  const std::string worker = start_narrow(h, 1, [](auto&, auto&, auto&) {});
  ASSERT_TRUE(h.rt.pause(worker));
  ASSERT_TRUE(h.rt.post("narrow", "r", "in", {}));
  auto waiting = std::async(std::launch::async, [&] {
    const auto start = std::chrono::steady_clock::now();
    auto posted = h.rt.post("narrow", "r", "in", {}, {.wait_for_room = 60s});
    return std::make_pair(std::move(posted), std::chrono::steady_clock::now() - start);
  });
  std::this_thread::sleep_for(20ms);  // the post is waiting by now (or finds the worker stopped)
  h.rt.shutdown(true, 60s);           // nothing can move: the worker is stopped, its jobs cancelled
  auto [posted, took] = waiting.get();
  ASSERT_FALSE(posted);
  EXPECT_EQ(posted.error().kind, td::ErrorKind::stopped);
  EXPECT_TRUE(contains(posted.error().message, "worker 'narrow")) << posted.error().message;
  EXPECT_LT(took, 10s);
}
