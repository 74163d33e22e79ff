#include "tendril/flow/builtin_routines.hpp"

#include <cstdio>
#include <mutex>
#include <stdexcept>

#include "json_checks.hpp"

namespace tendril {

namespace {

class Relay : public Routine {
 public:
  std::optional<std::string> config_problem(const Json& config) const override {
    if (auto ok = detail::only_keys(config, {}, ""); !ok) return ok.error().message;
    return std::nullopt;
  }

  Relay() {
    add_slot("in");
    add_event("out");
    set_logic([this](const SlotData& in, const Json&, FlowWorkerState&) {
      for (const auto& item : in["in"]) emit("out", item);
    });
  }
};

// Counts every item by `step` (an integer, |step| <= kMaxStep); a count that would leave the
// 64-bit range is the routine's error, not a wrap-around.
class Counter : public Routine {
 public:
  static constexpr std::int64_t kMaxStep = 1'000'000'000'000;

  Counter() {
    add_slot("in");
    add_event("count", {"count"});
    set_logic([this](const SlotData& in, const Json&, FlowWorkerState& state) {
      const std::int64_t step = get_config("step", 1).get<std::int64_t>();
      for (std::size_t i = 0; i < in["in"].size(); ++i) {
        const Json now = state.update_routine_state(id(), [&](Json& s) {
          std::int64_t next = 0;
          if (__builtin_add_overflow(s.value("count", std::int64_t{0}), step, &next))
            throw std::overflow_error("count would overflow a 64-bit integer");
          s["count"] = next;
        });
        emit("count", {{"count", now["count"]}});
      }
    });
  }

  std::optional<std::string> config_problem(const Json& config) const override {
    if (auto ok = detail::only_keys(config, {"step"}, ""); !ok) return ok.error().message;
    if (auto step = detail::integer_in(config, "step", -kMaxStep, kMaxStep, 1, ""); !step)
      return step.error().message;
    return std::nullopt;
  }
};

class Log : public Routine {
 public:
  std::optional<std::string> config_problem(const Json& config) const override {
    if (auto ok = detail::only_keys(config, {"prefix"}, ""); !ok) return ok.error().message;
    if (auto prefix = config.find("prefix"); prefix != config.end() && !prefix->is_string())
      return std::string("/prefix: expected a string, not ") + prefix->type_name();
    return std::nullopt;
  }

  Log() {
    add_slot("in");
    set_logic([this](const SlotData& in, const Json&, FlowWorkerState&) {
      static std::mutex stdout_mutex;
      const std::string prefix = get_config("prefix", id()).get<std::string>();
      std::lock_guard lock(stdout_mutex);
      for (const auto& item : in["in"])
        std::printf("%s: %s\n", prefix.c_str(),
                    item.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
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
