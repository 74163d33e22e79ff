#include "worker.hpp"

#include "flow_data.hpp"

namespace tendril::detail {

FlowWorker::FlowWorker(ActivationHost& host_, std::string name_, Flow flow_, FlowWorkerState state_)
    : host(host_), name(std::move(name_)), flow(std::move(flow_)), state(std::move(state_)) {
  const auto& data = *flow.data();
  for (const auto& [id, routine] : data.routines) {
    const ErrorHandler handler = routine->error_handler() ? *routine->error_handler()
                                 : data.error_handler     ? *data.error_handler
                                                          : ErrorHandler{};
    cells.push_back(std::make_unique<RoutineCell>(*this, *routine, handler));
    by_routine[id] = cells.back().get();
  }
  for (const auto& c : data.connections) {
    RoutineCell* to = by_routine.at(c.to);
    const std::size_t slot = to->routine.find_slot(c.slot) - to->routine.slots().data();
    by_routine.at(c.from)->outputs[c.event].push_back({to, slot});
  }
}

}  // namespace tendril::detail
