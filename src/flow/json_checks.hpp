// src/flow/json_checks.hpp — checks of the JSON that flow files are made of. Internal.
//
// Each returns an `invalid` Error naming the place (a JSON pointer such as
// "/routines/a/policy/ms") and what was expected.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "tendril/core/error.hpp"
#include "tendril/flow/json.hpp"

namespace tendril::detail {

inline Error invalid_at(const std::string& where, const std::string& what) {
  return Error{.kind = ErrorKind::invalid, .message = where + ": " + what};
}

// Every key of `object` must be one of `allowed`; otherwise an error naming the first stranger.
inline Result<void> only_keys(const Json& object, std::initializer_list<std::string_view> allowed,
                              const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    std::string list;
    for (auto a : allowed) {
      known = known || key == a;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    if (!known)
      return std::unexpected(
          invalid_at(where + "/" + key, list.empty() ? "unknown key (none is taken here)"
                                                     : "unknown key (expected: " + list + ")"));
  }
  return {};
}

// `object[key]` as a whole number in [low, high]; `fallback` when the key is absent.
inline Result<std::int64_t> integer_in(const Json& object, const char* key, std::int64_t low,
                                       std::int64_t high, std::int64_t fallback,
                                       const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  const auto out_of_range = [&] {
    return std::unexpected(invalid_at(
        where + "/" + key,
        "expected a whole number from " + std::to_string(low) + " to " + std::to_string(high)));
  };
  if (!it->is_number_integer()) return out_of_range();
  std::int64_t value;
  if (it->is_number_unsigned()) {
    const auto u = it->get<std::uint64_t>();
    if (high < 0 || u > static_cast<std::uint64_t>(high)) return out_of_range();
    value = static_cast<std::int64_t>(u);
  } else {
    value = it->get<std::int64_t>();
  }
  if (value < low || value > high) return out_of_range();
  return value;
}

// `object[key]` as a finite number in [low, high]; `fallback` when the key is absent.
inline Result<double> number_in(const Json& object, const char* key, double low, double high,
                                double fallback, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < low ||
      it->get<double>() > high)
    return std::unexpected(
        invalid_at(where + "/" + key,
                   "expected a number from " + Json(low).dump() + " to " + Json(high).dump()));
  return it->get<double>();
}

}  // namespace tendril::detail
