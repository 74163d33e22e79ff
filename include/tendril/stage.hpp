// tendril/stage.hpp — stages: work_pool, mix_pool.
// Kept for existing includes; the header is <tendril/pipeline/stage.hpp>.
#pragma once

#include "tendril/pipeline/stage.hpp"  // IWYU pragma: export
