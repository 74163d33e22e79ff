// tendril/error.hpp — the error model (Error, Result, KillSwitch).
// Kept for existing includes; the header is <tendril/core/error.hpp>.
#pragma once

#include "tendril/core/error.hpp"  // IWYU pragma: export
