// python/src/stage_calls.hpp — what the workers of one Python stage call, shared by the
// thread and the process workers.
#pragma once

#include <Python.h>

#include <memory>
#include <vector>

#include <tendril/pipeline/stage.hpp>

#include "object_ref.hpp"

namespace tendril::python {

// The stage's handlers and the front's hooks around each call (Refs to None when unused).
struct StageCalls {
  std::vector<Ref> functions;  // worker i runs functions[i % size]
  int attempts = 1;            // tries per item inside the handler (fork stages); 0: none
  Ref on_await;                // on_await(awaitable) -> its result, on the run's event loop
  Ref on_schedule;     // on_schedule(awaitable) -> a concurrent.futures.Future of it on that loop
  Ref on_interrupt;    // on_interrupt(exc): a BaseException that ends the run
  Ref on_kill;         // on_kill(reason): a returned KillSwitch (None: nothing to tell)
  Ref on_output;       // on_output(out) per success (None: not counted)
  Ref on_path_failed;  // on_path_failed(): an item failed every attempt (None: not told)
};

// The Python exception now set, as an engine error (its repr as the message, or a Failed or
// Kill's text); clears it. Call with the GIL held.
Error take_python_error();

// The failure now set by a handler call: an Exception fails the attempt; anything else
// (KeyboardInterrupt, SystemExit...) is handed to the front (on_interrupt), and the run ends.
// With the GIL.
Error handler_failure(const StageCalls& calls);

// What a handler's value `out` (a new reference, taken over) makes of the attempt: an Err fails
// it, a KillSwitch ends the run (told to on_kill), anything else is the output. With the GIL.
Result<Ref> settle(const StageCalls& calls, PyObject* out);

// The worker's Python WorkerState, made at its first item: one per function slot and run; null
// with a Python error set when it cannot be made. With the GIL.
PyObject* python_state(WorkerState& state);

bool is_set(const Ref& hook);
// Calls hook(arg) (or hook() when arg is null) with the GIL, for its side effect; an error in
// it is reported as unraisable, never lost silently and never mistaken for the handler's.
void notify(const Ref& hook, PyObject* arg);

// A multi_proc stage's handler: each worker keeps a worker process (a Python interpreter
// serving pickled calls, see process_module.cpp) and sends it (function, item) per attempt.
detail::ErasedHandler<Ref, Ref> process_handler(std::shared_ptr<const StageCalls> calls,
                                                const PoolOptions<Ref, Ref>& options);

// A stage of `async def` handlers (coroutine_stage.cpp): each attempt is scheduled on the run's
// asyncio loop (on_schedule) and awaited by a coroutine frame on the engine's event loop, so
// `num_workers` items are in flight without a thread each.
detail::AsyncNodeFactory<Ref, Ref> coroutine_stage(std::shared_ptr<const StageCalls> calls);

}  // namespace tendril::python
