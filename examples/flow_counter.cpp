// The seed's counter pattern: total requests and counts by type in the worker's state, each
// request answered on the "response" event, which a second routine collects.
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include <tendril/flow.hpp>

namespace td = tendril;
using namespace std::chrono_literals;

class RequestCounter : public td::Routine {
 public:
  RequestCounter() {
    add_slot("request");
    add_event("response", {"request_id", "count"});
    set_logic(
        [this](const td::SlotData& slot_data, const td::Json&, td::FlowWorkerState& worker_state) {
          for (const auto& req : slot_data["request"]) {
            const std::string req_id = req.value("request_id", "unknown");
            const std::string req_type = req.value("type", "unknown");
            // One atomic read-modify-write: safe even if this routine ran several at once.
            td::Json state = worker_state.update_routine_state("counter", [&](td::Json& s) {
              s["total_requests"] = s.value("total_requests", 0) + 1;
              td::Json& by_type = s["by_type"];
              if (!by_type.is_object()) by_type = td::Json::object();
              by_type[req_type] = by_type.value(req_type, 0) + 1;
            });
            const int total = state["total_requests"];
            std::printf("Request %s (%s) - Total: %d\n", req_id.c_str(), req_type.c_str(), total);
            emit("response", {{"request_id", req_id}, {"count", total}});
          }
        });
    set_activation_policy(td::immediate_policy());
  }
};

class ResponseLog : public td::Routine {
 public:
  ResponseLog() {
    add_slot("response");
    set_logic([this](const td::SlotData& slot_data, const td::Json&, td::FlowWorkerState&) {
      std::lock_guard lock(mutex);
      for (const auto& r : slot_data["response"]) responses.push_back(r);
    });
  }
  std::mutex mutex;
  std::vector<td::Json> responses;
};

int main() {
  td::Flow flow("request_counter");
  flow.add_routine(std::make_unique<RequestCounter>(), "counter");
  auto& log = flow.emplace_routine<ResponseLog>("log");
  flow.connect("counter", "response", "log", "response");
  td::FlowRegistry::instance().register_by_name("request_counter", flow);

  td::Runtime runtime({.thread_pool_size = 2});
  const std::string worker = runtime.exec("request_counter").value();
  const char* types[] = {"read", "write", "read", "read", "delete", "write"};
  for (int i = 0; i < 6; ++i) {
    std::string request_id = "r";
    request_id += std::to_string(i + 1);
    if (!runtime.post("request_counter", "counter", "request",
                      {{"request_id", request_id}, {"type", types[i]}}))
      return 1;
  }
  if (!runtime.wait_until_all_jobs_finished(10s)) return 1;

  const td::Json state = runtime.worker_state(worker)->get_routine_state("counter").value();
  std::printf("by type: %s, responses: %zu\n", state["by_type"].dump().c_str(),
              log.responses.size());
  const bool ok = state["total_requests"] == 6 &&
                  state["by_type"] == td::Json{{"read", 3}, {"write", 2}, {"delete", 1}} &&
                  log.responses.size() == 6 && log.responses.back()["count"] == 6;
  return ok ? 0 : 1;
}
