// The seed's statistics pattern: processed and error counts and the last processed time, kept
// per worker. Two routines record into the same "stats" state at once, so each update is the
// atomic read-modify-write.
#include <chrono>
#include <cstdio>

#include <tendril/flow.hpp>

namespace td = tendril;
using namespace std::chrono_literals;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::unique_ptr<td::Routine> stats_tracker() {
  auto r = std::make_unique<td::Routine>();
  r->add_slot("in");
  r->set_logic(
      [](const td::SlotData& slot_data, const td::Json&, td::FlowWorkerState& worker_state) {
        for (const auto& item : slot_data["in"]) {
          const bool bad = item.value("value", 0) < 0;
          worker_state.update_routine_state("stats", [&](td::Json& state) {
            state["processed"] = state.value("processed", 0) + 1;
            state["errors"] = state.value("errors", 0) + (bad ? 1 : 0);
            state["last_processed"] = now_seconds();
          });
        }
      });
  return r;
}

int main() {
  td::Flow flow("statistics");
  auto fan = std::make_unique<td::Routine>();
  td::Routine* self = fan.get();
  fan->add_slot("in");
  fan->add_event("out", {"value"});
  // SlotData& (not const): the items are moved on. The one event feeds two routines: all but the
  // last connected get a copy, the last the item itself.
  fan->set_logic([self](td::SlotData& in, const td::Json&, td::FlowWorkerState&) {
    for (td::Json& item : in.items("in")) self->emit("out", std::move(item));
  });
  flow.add_routine(std::move(fan), "fan");
  flow.add_routine(stats_tracker(), "left");
  flow.add_routine(stats_tracker(), "right");
  flow.connect("fan", "out", "left", "in");
  flow.connect("fan", "out", "right", "in");
  td::FlowRegistry::instance().register_by_name("statistics", flow);

  td::Runtime runtime({.thread_pool_size = 2});
  const std::string worker = runtime.exec("statistics").value();
  const double start = now_seconds();
  for (int i = 0; i < 1000; ++i)
    while (!runtime.post("statistics", "fan", "in", {{"value", i % 10 == 0 ? -i : i}}))
      std::this_thread::sleep_for(1ms);  // a full slot: try again
  if (!runtime.wait_until_all_jobs_finished(30s)) return 1;
  const td::Json stats = runtime.worker_state(worker)->get_routine_state("stats").value();
  std::printf("processed %d, errors %d\n", stats["processed"].get<int>(),
              stats["errors"].get<int>());
  // 1000 items reach both routines; one in ten is an error (i = 0 counts: -0 is not < 0).
  return stats["processed"] == 2000 && stats["errors"] == 2 * 99 &&
                 stats["last_processed"].get<double>() >= start
             ? 0
             : 1;
}
