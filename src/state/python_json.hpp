// src/state/python_json.hpp — JSON written byte for byte as Python's json.dumps() writes it by
// default: ", " and ": " separators, every non-ASCII character as \uXXXX (surrogate pairs above
// U+FFFF), floats as repr() writes them, NaN and Infinity bare. What the original package put on
// the wire, for consumers that compare bytes.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace tendril::state {

// Appends `value` to `out`. Bytes of a string that are not valid UTF-8 become U+FFFD.
void append_python_json(std::string& out, const nlohmann::ordered_json& value);

}  // namespace tendril::state
