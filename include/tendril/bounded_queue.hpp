// tendril/bounded_queue.hpp — the bounded blocking queue.
// Kept for existing includes; the header is <tendril/core/bounded_queue.hpp>.
#pragma once

#include "tendril/core/bounded_queue.hpp"  // IWYU pragma: export
