// tendril/task.hpp — coroutine stages (Task<T>, on Asio).
// Kept for existing includes; the header is <tendril/pipeline/task.hpp>.
#pragma once

#include "tendril/pipeline/task.hpp"  // IWYU pragma: export
