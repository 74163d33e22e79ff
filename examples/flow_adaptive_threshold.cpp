// The seed's learned-behaviour pattern: a classifier's threshold moves up after a false positive
// and down after a false negative, and the learned value persists across jobs (and across a
// restart, through a saved WorkerState).
#include <chrono>
#include <cmath>
#include <cstdio>

#include <tendril/flow.hpp>

namespace td = tendril;
using namespace std::chrono_literals;

class AdaptiveClassifier : public td::Routine {
 public:
  AdaptiveClassifier() {
    add_slot("sample");
    set_activation_policy(td::batch_size_policy(1));  // learn from one labelled sample at a time
    set_logic(
        [](const td::SlotData& slot_data, const td::Json&, td::FlowWorkerState& worker_state) {
          const td::Json& sample = slot_data["sample"].at(0);
          worker_state.update_routine_state("adaptive", [&](td::Json& state) {
            double threshold = state.value("threshold", 0.5);
            const bool predicted = sample["score"].get<double>() >= threshold;
            const bool actual = sample["label"].get<bool>();
            if (predicted && !actual)
              threshold += 0.05;  // a false positive
            else if (!predicted && actual)
              threshold -= 0.05;  // a false negative
            if (predicted != actual) state["adjustments"] = state.value("adjustments", 0) + 1;
            state["threshold"] = std::round(threshold * 100) / 100;
          });
        });
  }
};

int main() {
  td::Flow flow("adaptive");
  flow.add_routine(std::make_unique<AdaptiveClassifier>(), "classifier");
  td::FlowRegistry::instance().register_by_name("adaptive", flow);
  // Scores at 0.55 are negatives: the threshold climbs past them, 0.50 -> 0.55 -> 0.60.
  const td::Json samples = td::Json::parse(R"([
    {"score": 0.55, "label": false}, {"score": 0.55, "label": false},
    {"score": 0.55, "label": false}, {"score": 0.70, "label": true},
    {"score": 0.58, "label": true},  {"score": 0.90, "label": true}])");
  td::Json saved;
  {
    td::Runtime runtime({.thread_pool_size = 2});
    const std::string worker = runtime.exec("adaptive").value();
    for (const auto& s : samples)
      if (!runtime.post("adaptive", "classifier", "sample", s)) return 1;
    if (!runtime.wait_until_all_jobs_finished(10s)) return 1;
    saved = runtime.worker_state(worker)->to_json();
  }
  const td::Json learned = saved["routine_states"]["adaptive"];
  std::printf("threshold %.2f after %d adjustments\n", learned["threshold"].get<double>(),
              learned["adjustments"].get<int>());
  // 0.50 +0.05 (FP) = 0.55 +0.05 (FP) = 0.60; 0.55 < 0.60 correct; 0.70 ok; 0.58 < 0.60 but
  // positive (FN) -0.05 = 0.55; 0.90 ok. Three adjustments, ending at 0.55.
  if (learned["threshold"] != 0.55 || learned["adjustments"] != 3) return 1;

  // A new runtime restores what was learned.
  td::Runtime restarted({.thread_pool_size = 1});
  const std::string worker = restarted.exec("adaptive", saved).value();
  if (!restarted.post("adaptive", "classifier", "sample", {{"score", 0.56}, {"label", false}}))
    return 1;
  if (!restarted.wait_until_all_jobs_finished(10s)) return 1;
  const td::Json after = restarted.worker_state(worker)->get_routine_state("adaptive").value();
  std::printf("after restart: threshold %.2f, %d adjustments\n", after["threshold"].get<double>(),
              after["adjustments"].get<int>());
  return after["threshold"] == 0.6 && after["adjustments"] == 4 ? 0 : 1;
}
