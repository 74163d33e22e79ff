// The seed's configuration hot-reload pattern: the routine keeps the current config and when it
// last fetched it; it fetches again once the reload interval has passed.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <tendril/flow.hpp>

namespace td = tendril;
using namespace std::chrono_literals;

std::atomic<int> fetches{0};

td::Json fetch_config_from_server() {  // each fetch sees a newer version
  const int version = ++fetches;
  return {{"version", version}, {"threshold", 0.5 + 0.1 * version}};
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class ConfiguredRoutine : public td::Routine {
 public:
  ConfiguredRoutine() {
    add_slot("in");
    set_config("reload_seconds", 0.05);
    set_logic(
        [this](const td::SlotData& slot_data, const td::Json&, td::FlowWorkerState& worker_state) {
          td::Json state = worker_state.get_routine_state("config").value_or(td::Json::object());
          const double last_check = state.value("last_check", 0.0);
          if (now_seconds() - last_check > get_config("reload_seconds").get<double>()) {
            state["current"] = fetch_config_from_server();
            state["last_check"] = now_seconds();
            worker_state.update_routine_state("config", state);
            std::printf("reloaded config version %d\n", state["current"]["version"].get<int>());
          }
          for (const auto& item : slot_data["in"])
            worker_state.update_routine_state("seen", [&](td::Json& s) {
              s["items"] = s.value("items", 0) + 1;
              s["last_version"] = state["current"]["version"];
              (void)item;
            });
        });
  }
};

int main() {
  td::Flow flow("config_reload");
  flow.add_routine(std::make_unique<ConfiguredRoutine>(), "configured");
  td::FlowRegistry::instance().register_by_name("config_reload", flow);
  td::Runtime runtime({.thread_pool_size = 2});
  const std::string worker = runtime.exec("config_reload").value();
  // 12 items 20 ms apart (240 ms) with a 50 ms reload interval: the first item fetches, and
  // then a fetch every third item or so.
  for (int i = 0; i < 12; ++i) {
    if (!runtime.post("config_reload", "configured", "in", {{"i", i}})) return 1;
    std::this_thread::sleep_for(20ms);
  }
  if (!runtime.wait_until_all_jobs_finished(10s)) return 1;
  const auto seen = runtime.worker_state(worker)->get_routine_state("seen").value();
  std::printf("%d fetches for %d items\n", fetches.load(), seen["items"].get<int>());
  return seen["items"] == 12 && fetches >= 2 && fetches <= 12 &&
                 seen["last_version"] == fetches.load()
             ? 0
             : 1;
}
