// src/flow/names.hpp — lists of names for error messages ("a, b, c", or "none"). Internal.
#pragma once

#include <string>
#include <vector>

namespace tendril::detail {

inline std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// The names of a routine's slots or events.
template <class Specs>
std::string join_names_of(const Specs& specs) {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  return join_names(names);
}

}  // namespace tendril::detail
