// tendril/worker_state.hpp — a worker's typed state.
// Kept for existing includes; the header is <tendril/core/worker_state.hpp>.
#pragma once

#include "tendril/core/worker_state.hpp"  // IWYU pragma: export
