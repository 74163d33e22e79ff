// tendril/flow/json.hpp — the JSON value of flows: payloads, routine states, configs, traces.
//
// nlohmann::json (sorted object keys). Tool state writes its own ordered form
// (`tendril::state::OrderedJson`, in tendril/state/tool_state.hpp).
#pragma once

#include <nlohmann/json.hpp>

namespace tendril {

using Json = nlohmann::json;

}  // namespace tendril
