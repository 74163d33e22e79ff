#include "tendril/flow/builtin_routines.hpp"

#include <cstdio>
#include <mutex>

namespace tendril {

namespace {

class Relay : public Routine {
 public:
  Relay() {
    add_slot("in");
    add_event("out");
    set_logic([this](const SlotData& in, const Json&, FlowWorkerState&) {
      for (const auto& item : in["in"]) emit("out", item);
    });
  }
};

class Counter : public Routine {
 public:
  Counter() {
    add_slot("in");
    add_event("count", {"count"});
    set_logic([this](const SlotData& in, const Json&, FlowWorkerState& state) {
      const std::int64_t step = get_config("step", 1).get<std::int64_t>();
      for (std::size_t i = 0; i < in["in"].size(); ++i) {
        const Json now = state.update_routine_state(
            id(), [&](Json& s) { s["count"] = s.value("count", std::int64_t{0}) + step; });
        emit("count", {{"count", now["count"]}});
      }
    });
  }
};

class Log : public Routine {
 public:
  Log() {
    add_slot("in");
    set_logic([this](const SlotData& in, const Json&, FlowWorkerState&) {
      static std::mutex stdout_mutex;
      const std::string prefix = get_config("prefix", id()).get<std::string>();
      std::lock_guard lock(stdout_mutex);
      for (const auto& item : in["in"])
        std::printf("%s: %s\n", prefix.c_str(), item.dump().c_str());
      std::fflush(stdout);
    });
  }
};

template <class R>
void add(RoutineRegistry& registry, const char* name) {
  if (!registry.contains(name)) registry.register_type<R>(name);
}

}  // namespace

void register_builtin_routines(RoutineRegistry& registry) {
  static std::mutex mutex;  // two threads registering at once would race contains/register
  std::lock_guard lock(mutex);
  add<Relay>(registry, "tendril.Relay");
  add<Counter>(registry, "tendril.Counter");
  add<Log>(registry, "tendril.Log");
}

}  // namespace tendril
