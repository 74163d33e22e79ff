// tendril/tendril.hpp — everything of Tendril's public API in one include.
#pragma once

#include "tendril/bounded_queue.hpp"
#include "tendril/error.hpp"
#include "tendril/metrics.hpp"
#include "tendril/pipeline.hpp"
#include "tendril/stage.hpp"
#include "tendril/worker_state.hpp"
