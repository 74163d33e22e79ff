// The seed's connection-pool pattern. A pool is no JSON value, so it lives in the WorkerState's
// typed store (`get_or_create`: made once per worker), while the JSON routine state records
// what a saved snapshot should know about it.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include <tendril/flow.hpp>

namespace td = tendril;
using namespace std::chrono_literals;

class ConnectionPool {  // stands in for a real database pool
 public:
  static inline std::atomic<int> created{0};
  explicit ConnectionPool(int size) : free_(size) { ++created; }
  td::Json execute(const std::string& sql) {
    std::lock_guard lock(mutex_);
    --free_;  // take a connection...
    td::Json rows = {{"sql", sql}, {"rows", static_cast<int>(sql.size())}};
    ++free_;  // ...and give it back
    return rows;
  }

 private:
  std::mutex mutex_;
  int free_;
};

class DatabaseQueryRoutine : public td::Routine {
 public:
  DatabaseQueryRoutine() {
    add_slot("query");
    add_event("result", {"data"});
    set_logic(
        [this](const td::SlotData& slot_data, const td::Json&, td::FlowWorkerState& worker_state) {
          auto& pool = worker_state.get_or_create("db_accessor.pool", [&] {
            std::puts("Initializing database connection pool...");
            worker_state.update_routine_state("db_accessor", {{"pool_size", 4}});
            return std::make_shared<ConnectionPool>(4);
          });
          for (const auto& query : slot_data["query"])
            emit("result", {{"data", pool->execute(query["sql"])}});
        });
    set_concurrency(2);  // two queries at once share the worker's one pool
  }
};

int main() {
  td::Flow flow("db");
  flow.add_routine(std::make_unique<DatabaseQueryRoutine>(), "db_accessor");
  std::mutex mutex;
  std::vector<td::Json> results;
  auto collect = std::make_unique<td::Routine>();
  collect->add_slot("in");
  collect->set_logic([&](const td::SlotData& in, const td::Json&, td::FlowWorkerState&) {
    std::lock_guard lock(mutex);
    for (const auto& r : in["in"]) results.push_back(r["data"]);
  });
  flow.add_routine(std::move(collect), "collect");
  flow.connect("db_accessor", "result", "collect", "in");
  td::FlowRegistry::instance().register_by_name("db", flow);

  td::Runtime runtime({.thread_pool_size = 2});
  const std::string worker = runtime.exec("db").value();
  for (int i = 0; i < 20; ++i)
    if (!runtime.post("db", "db_accessor", "query", {{"sql", "SELECT " + std::to_string(i)}}))
      return 1;
  if (!runtime.wait_until_all_jobs_finished(10s)) return 1;
  std::printf("%zu results, %d pool(s) created\n", results.size(), ConnectionPool::created.load());
  const bool ok =
      results.size() == 20 && ConnectionPool::created == 1 &&
      runtime.worker_state(worker)->get_routine_state("db_accessor").value()["pool_size"] == 4;
  return ok ? 0 : 1;
}
