// The seed's caching pattern: a routine keeps a cache and hit/miss statistics in its worker's
// WorkerState, so posts to the running worker reuse earlier results.
//
// The seed's expected output ends with "(hits: 2)" for the third hit; counting right, it is 3.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <tendril/flow.hpp>

namespace td = tendril;
using namespace std::chrono_literals;

class ExpensiveDataProcessor : public td::Routine {
 public:
  ExpensiveDataProcessor() {
    add_slot("input");
    add_event("output", {"result", "cached"});
    add_slot("clear_cache");  // optional cache clearing

    set_logic([this](const td::SlotData& slot_data, const td::Json&,
                     td::FlowWorkerState& worker_state) {
      td::Json state = worker_state.get_routine_state("processor").value_or(td::Json::object());
      td::Json cache = state.value("cache", td::Json::object());
      td::Json stats = state.value("stats", td::Json{{"hits", 0}, {"misses", 0}});

      if (!slot_data["clear_cache"].empty()) {
        std::puts("Cache cleared!");
        worker_state.update_routine_state(
            "processor", {{"cache", td::Json::object()}, {"stats", {{"hits", 0}, {"misses", 0}}}});
        return;
      }
      if (slot_data["input"].empty()) return;

      const std::string data = slot_data["input"][0].value("data", "");
      const std::string cache_key = std::to_string(std::hash<std::string>{}(data));
      if (cache.contains(cache_key)) {
        stats["hits"] = stats["hits"].get<int>() + 1;
        worker_state.update_routine_state("processor", {{"cache", cache}, {"stats", stats}});
        std::printf("CACHE HIT! Reusing cached result (hits: %d)\n", stats["hits"].get<int>());
        emit("output", {{"result", cache[cache_key]}, {"cached", true}});
      } else {
        std::puts("Cache miss - processing...");
        std::this_thread::sleep_for(100ms);  // simulate an expensive operation
        std::string result = "processed_";
        for (char c : data)
          result += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        cache[cache_key] = result;
        stats["misses"] = stats["misses"].get<int>() + 1;
        worker_state.update_routine_state("processor", {{"cache", cache}, {"stats", stats}});
        std::printf("Processed and cached (misses: %d)\n", stats["misses"].get<int>());
        emit("output", {{"result", result}, {"cached", false}});
      }
      std::fflush(stdout);
    });
    set_activation_policy(td::immediate_policy());
  }
};

int main() {
  td::Flow flow("cached_processor");
  flow.add_routine(std::make_unique<ExpensiveDataProcessor>(), "processor");
  td::FlowRegistry::instance().register_by_name("cached_processor", flow);

  td::Runtime runtime({.thread_pool_size = 2});
  const std::string worker = runtime.exec("cached_processor").value();

  for (const char* data : {"hello", "world", "hello", "test", "hello", "world"}) {
    std::printf("\nSending: %s\n", data);
    std::fflush(stdout);
    auto posted = runtime.post("cached_processor", "processor", "input", {{"data", data}});
    if (!posted) return std::fprintf(stderr, "%s\n", posted.error().describe().c_str()), 1;
    posted->job->wait(10s);  // one at a time, as the seed's output reads
  }
  if (!runtime.wait_until_all_jobs_finished(10s)) return 1;

  const td::Json stats =
      runtime.worker_state(worker)->get_routine_state("processor").value()["stats"];
  std::printf("\nhits: %d, misses: %d\n", stats["hits"].get<int>(), stats["misses"].get<int>());
  return stats == td::Json{{"hits", 3}, {"misses", 3}} ? 0 : 1;
}
