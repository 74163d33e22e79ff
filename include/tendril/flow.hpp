// tendril/flow.hpp — the flow face of Tendril: routines with slots and events, wired into
// flows, run by a Runtime with persistent WorkerState and a JobContext per job.
#pragma once

#include "tendril/flow/activation_policy.hpp"
#include "tendril/flow/builtin_routines.hpp"
#include "tendril/flow/error_handler.hpp"
#include "tendril/flow/flow.hpp"
#include "tendril/flow/job_context.hpp"
#include "tendril/flow/json_reader.hpp"
#include "tendril/flow/routine.hpp"
#include "tendril/flow/runtime.hpp"
#include "tendril/flow/worker_state.hpp"
