// tendril/metrics.hpp — a pipeline run's metrics.
// Kept for existing includes; the header is <tendril/pipeline/metrics.hpp>.
#pragma once

#include "tendril/pipeline/metrics.hpp"  // IWYU pragma: export
