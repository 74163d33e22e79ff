#include "tendril/flow/activation_policy.hpp"

#include <limits>
#include <stdexcept>

#include "json_checks.hpp"

namespace tendril {

namespace {

using detail::invalid_at;

void take_all(const SlotsView& slots, std::vector<std::size_t>& take) {
  take.resize(slots.slot_count());
  for (std::size_t i = 0; i < take.size(); ++i) take[i] = slots.queued(i);
}

}  // namespace

std::size_t SlotsView::queued(std::string_view name) const {
  for (std::size_t i = 0; i < slot_count(); ++i)
    if (slot_name(i) == name) return queued(i);
  return 0;
}

bool SlotsView::any_queued() const {
  for (std::size_t i = 0; i < slot_count(); ++i)
    if (queued(i)) return true;
  return false;
}

ActivationPolicy ActivationPolicy::immediate() {
  ActivationPolicy p{Kind::immediate, "immediate"};
  p.message_ = std::make_shared<const Json>(Json{{"policy", p.name_}});
  return p;
}

ActivationPolicy ActivationPolicy::batch_size(std::size_t n) {
  if (n == 0 || n > kMaxBatch)
    throw UsageError("batch_size policy: n must be from 1 to " + std::to_string(kMaxBatch) +
                     ", got " + std::to_string(n));
  ActivationPolicy p{Kind::batch_size, "batch_size"};
  p.batch_ = n;
  p.message_ = std::make_shared<const Json>(Json{{"policy", p.name_}, {"batch_size", n}});
  return p;
}

ActivationPolicy ActivationPolicy::all_slots_ready() {
  ActivationPolicy p{Kind::all_slots_ready, "all_slots_ready"};
  p.message_ = std::make_shared<const Json>(Json{{"policy", p.name_}});
  return p;
}

ActivationPolicy ActivationPolicy::time_interval(std::chrono::milliseconds interval) {
  if (interval.count() <= 0 || interval > kMaxInterval)
    throw UsageError("time_interval policy: the interval must be from 1 to " +
                     std::to_string(kMaxInterval.count()) + " ms, got " +
                     std::to_string(interval.count()) + " ms");
  ActivationPolicy p{Kind::time_interval, "time_interval"};
  p.interval_ = interval;
  return p;
}

ActivationPolicy ActivationPolicy::custom(Predicate predicate, std::string name) {
  if (!predicate) throw UsageError("custom policy: the predicate is empty");
  ActivationPolicy p{Kind::custom, std::move(name)};
  p.predicate_ = std::move(predicate);
  p.message_ = std::make_shared<const Json>(Json{{"policy", p.name_}});
  return p;
}

ActivationPolicy::Decision ActivationPolicy::decide(
    const SlotsView& slots, Clock::time_point now,
    std::optional<Clock::time_point> last_run) const {
  Decision d;
  decide(slots, now, last_run, d);
  return d;
}

void ActivationPolicy::decide(const SlotsView& slots, Clock::time_point now,
                              std::optional<Clock::time_point> last_run, Decision& d) const {
  d.verdict = Decision::wait;
  d.take.clear();
  d.message.reset();
  d.due = {};
  const std::size_t n = slots.slot_count();
  switch (kind_) {
    case Kind::immediate:
      if (!slots.any_queued()) return;
      take_all(slots, d.take);
      d.message = message_;
      break;
    case Kind::batch_size:
    case Kind::all_slots_ready: {
      if (n == 0) return;
      for (std::size_t i = 0; i < n; ++i)
        if (slots.queued(i) < batch_) return;
      d.take.assign(n, batch_);
      d.message = message_;
      break;
    }
    case Kind::time_interval: {
      if (!slots.any_queued()) return;
      if (last_run && now - *last_run < interval_) {
        d.verdict = Decision::run_later;
        d.due = *last_run + interval_;
        return;
      }
      take_all(slots, d.take);
      Json message = {{"policy", name_}, {"interval_ms", interval_.count()}};
      if (last_run)
        message["since_last_ms"] =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - *last_run).count();
      d.message = std::make_shared<const Json>(std::move(message));
      break;
    }
    case Kind::custom:
      if (!predicate_(slots)) return;
      take_all(slots, d.take);
      d.message = message_;
      break;
  }
  d.verdict = Decision::run;
}

Result<Json> ActivationPolicy::to_json() const {
  switch (kind_) {
    case Kind::immediate:
      return Json{{"type", "immediate"}};
    case Kind::all_slots_ready:
      return Json{{"type", "all_slots_ready"}};
    case Kind::batch_size:
      return Json{{"type", "batch_size"}, {"n", batch_}};
    case Kind::time_interval:
      return Json{{"type", "time_interval"}, {"ms", interval_.count()}};
    case Kind::custom:
      break;
  }
  return std::unexpected(Error{.kind = ErrorKind::usage,
                               .message = "custom activation policy '" + name_ +
                                          "' has no JSON form; set it in the routine's code"});
}

Result<ActivationPolicy> ActivationPolicy::from_json(const Json& json, const std::string& where) {
  if (!json.is_object()) return std::unexpected(invalid_at(where, "expected an object"));
  auto type = json.find("type");
  if (type == json.end() || !type->is_string())
    return std::unexpected(invalid_at(where + "/type",
                                      "expected a string: immediate, batch_size, "
                                      "all_slots_ready or time_interval"));
  const auto name = type->get<std::string>();
  auto keys = [&](std::initializer_list<std::string_view> allowed) {
    return detail::only_keys(json, allowed, where);
  };
  if (name == "immediate" || name == "all_slots_ready") {
    if (auto ok = keys({"type"}); !ok) return std::unexpected(ok.error());
    return name == "immediate" ? immediate() : all_slots_ready();
  }
  if (name == "batch_size") {
    if (auto ok = keys({"type", "n"}); !ok) return std::unexpected(ok.error());
    if (!json.contains("n"))
      return std::unexpected(invalid_at(where + "/n", "missing: how many items"));
    auto n = detail::integer_in(json, "n", 1, static_cast<std::int64_t>(kMaxBatch), 1, where);
    if (!n) return std::unexpected(n.error());
    return batch_size(static_cast<std::size_t>(*n));
  }
  if (name == "time_interval") {
    if (auto ok = keys({"type", "ms"}); !ok) return std::unexpected(ok.error());
    if (!json.contains("ms"))
      return std::unexpected(invalid_at(where + "/ms", "missing: the interval in milliseconds"));
    auto ms = detail::integer_in(json, "ms", 1, kMaxInterval.count(), 1, where);
    if (!ms) return std::unexpected(ms.error());
    return time_interval(std::chrono::milliseconds(*ms));
  }
  return std::unexpected(invalid_at(where + "/type", "unknown policy '" + name +
                                                         "' (immediate, batch_size, "
                                                         "all_slots_ready, time_interval)"));
}

}  // namespace tendril
