#include "tendril/flow/routine.hpp"

#include <algorithm>

#include "activation.hpp"
#include "names.hpp"

namespace tendril {

std::optional<std::string> Routine::config_problem(const Json&) const { return std::nullopt; }

namespace {
const std::vector<Json> kNoItems;
}

const std::vector<Json>& SlotData::operator[](std::string_view slot) const {
  for (const auto& [name, items] : slots_)
    if (name == slot) return items;
  return kNoItems;
}

std::span<Json> SlotData::items(std::string_view slot) {
  for (auto& [name, items] : slots_)
    if (name == slot) return items;
  return {};
}

bool SlotData::empty() const noexcept { return total() == 0; }

std::size_t SlotData::total() const noexcept {
  std::size_t n = 0;
  for (const auto& entry : slots_) n += entry.second.size();
  return n;
}

void Routine::add_slot(std::string name, std::size_t max_queue_length, double watermark) {
  if (name.empty()) throw FlowError("add_slot: the slot name is empty");
  if (find_slot(name)) throw FlowError("add_slot: slot '" + name + "' already exists");
  if (max_queue_length == 0)
    throw FlowError("add_slot: slot '" + name + "': max_queue_length must be at least 1");
  if (!(watermark >= 0.0 && watermark <= 1.0))
    throw FlowError("add_slot: slot '" + name + "': watermark must be within [0, 1], got " +
                    std::to_string(watermark));
  slots_.push_back({std::move(name), max_queue_length, watermark});
}

void Routine::add_event(std::string name, std::vector<std::string> params) {
  if (name.empty()) throw FlowError("add_event: the event name is empty");
  if (find_event(name)) throw FlowError("add_event: event '" + name + "' already exists");
  for (std::size_t i = 0; i < params.size(); ++i)
    if (std::find(params.begin(), params.begin() + i, params[i]) != params.begin() + i)
      throw FlowError("add_event: event '" + name + "' lists parameter '" + params[i] + "' twice");
  events_.push_back({std::move(name), std::move(params)});
}

void Routine::set_error_handler(ErrorHandler handler) {
  try {
    handler.check();
  } catch (const std::invalid_argument& e) {
    throw FlowError(e.what());
  }
  error_handler_ = handler;
}

void Routine::set_concurrency(std::size_t n) {
  if (n == 0) throw FlowError("set_concurrency: must be at least 1");
  concurrency_ = n;
}

void Routine::set_config(Json config) {
  if (!config.is_object())
    throw FlowError(std::string("set_config: the config must be an object, not ") +
                    config.type_name());
  config_ = std::move(config);
}

void Routine::set_config(std::string key, Json value) {
  config_[std::move(key)] = std::move(value);
}

Json Routine::get_config(std::string_view key, Json fallback) const {
  auto it = config_.find(key);
  return it == config_.end() ? std::move(fallback) : *it;
}

const SlotSpec* Routine::find_slot(std::string_view name) const {
  for (const auto& s : slots_)
    if (s.name == name) return &s;
  return nullptr;
}

const EventSpec* Routine::find_event(std::string_view name) const {
  for (const auto& e : events_)
    if (e.name == name) return &e;
  return nullptr;
}

void Routine::emit(std::string_view event, Json payload) const {
  const EventSpec* spec = find_event(event);
  auto who = [&] { return id_.empty() ? std::string("routine") : "routine '" + id_ + "'"; };
  if (!spec) throw FlowError(who() + " has no event '" + std::string(event) + "'");
  if (payload.is_null()) payload = Json::object();
  if (!payload.is_object())
    throw FlowError(who() + ": event '" + spec->name + "' takes a JSON object, not " +
                    payload.type_name());
  if (!spec->params.empty())
    for (const auto& [key, value] : payload.items())
      if (std::find(spec->params.begin(), spec->params.end(), key) == spec->params.end()) {
        throw FlowError(who() + ": event '" + spec->name + "' has no parameter '" + key +
                        "' (declared: " + detail::join_names(spec->params) + ")");
      }
  detail::Activation* activation = detail::Activation::current();
  if (!activation || activation->routine() != this)
    throw FlowError(who() + ": emit('" + spec->name +
                    "') outside the routine's logic (emit only from the thread running it)");
  activation->emit(*spec, std::move(payload));
}

}  // namespace tendril
