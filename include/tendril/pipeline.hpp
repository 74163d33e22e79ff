// tendril/pipeline.hpp — pipelines: Pipeline, run(), iter().
// Kept for existing includes; the header is <tendril/pipeline/pipeline.hpp>.
#pragma once

#include "tendril/pipeline/pipeline.hpp"  // IWYU pragma: export
