// tendril/tendril.hpp — everything of Tendril's public API in one include.
#pragma once

#include "tendril/core/bounded_queue.hpp"
#include "tendril/core/error.hpp"
#include "tendril/core/worker_state.hpp"
#include "tendril/pipeline/metrics.hpp"
#include "tendril/pipeline/pipeline.hpp"
#include "tendril/pipeline/stage.hpp"
