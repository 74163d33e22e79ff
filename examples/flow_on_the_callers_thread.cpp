// A flow with no pool: `help_while_waiting` and `thread_pool_size = 0` run every routine on the
// thread that waits, as oneTBB's wait_for_all does. Posts into a small slot wait for room, and
// the posting thread makes the room itself by running the slot's routine.
#include <chrono>
#include <cstdio>
#include <thread>

#include <tendril/flow.hpp>

namespace td = tendril;
using namespace std::chrono_literals;

int main() {
  const std::thread::id caller = std::this_thread::get_id();
  bool elsewhere = false;  // did any routine run on another thread?
  long total = 0;

  td::Flow flow("squares");
  auto square = std::make_unique<td::Routine>();
  td::Routine* square_ptr = square.get();
  square->add_slot("in", 8);  // small: the poster fills it and drains it itself
  square->add_event("out");
  square->set_logic([&](td::SlotData& in, const td::Json&, td::FlowWorkerState&) {
    elsewhere |= std::this_thread::get_id() != caller;
    for (td::Json& item : in.items("in")) {
      const long n = item["n"];
      square_ptr->emit("out", {{"n", n}, {"square", n * n}});
    }
  });
  auto sum = std::make_unique<td::Routine>();
  sum->add_slot("in", 8);
  sum->set_logic([&](td::SlotData& in, const td::Json&, td::FlowWorkerState&) {
    elsewhere |= std::this_thread::get_id() != caller;
    for (const td::Json& item : in.items("in")) total += item["square"].get<long>();
  });
  flow.add_routine(std::move(square), "square");
  flow.add_routine(std::move(sum), "sum");
  flow.connect("square", "out", "sum", "in");

  td::Runtime runtime({.thread_pool_size = 0, .help_while_waiting = true});
  if (!runtime.exec(flow)) return 1;
  for (long n = 1; n <= 100; ++n)
    if (auto posted = runtime.post("squares", "square", "in", {{"n", n}}, {.wait_for_room = 1s});
        !posted) {
      std::fprintf(stderr, "post %ld: %s\n", n, posted.error().describe().c_str());
      return 1;
    }
  if (!runtime.wait_until_all_jobs_finished(10s)) return 1;

  std::printf("sum of the first 100 squares: %ld\n", total);
  std::printf("every routine ran on the calling thread: %s\n", elsewhere ? "no" : "yes");
  return total == 338350 && !elsewhere ? 0 : 1;
}
