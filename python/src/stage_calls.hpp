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
  Ref on_interrupt;            // on_interrupt(exc): a BaseException that ends the run
  Ref on_kill;                 // on_kill(reason): a returned KillSwitch (None: nothing to tell)
  Ref on_output;               // on_output(out) per success (None: not counted)
  Ref on_path_failed;          // on_path_failed(): an item failed every attempt (None: not told)
};

// The Python exception now set, as an engine error (its repr as the message, or a Failed or
// Kill's text); clears it. Call with the GIL held.
Error take_python_error();

bool is_set(const Ref& hook);
// Calls hook(arg) (or hook() when arg is null) with the GIL, for its side effect; an error in
// it is reported as unraisable, never lost silently and never mistaken for the handler's.
void notify(const Ref& hook, PyObject* arg);

// A multi_proc stage's handler: each worker keeps a worker process (a Python interpreter
// serving pickled calls, see process_module.cpp) and sends it (function, item) per attempt.
detail::ErasedHandler<Ref, Ref> process_handler(std::shared_ptr<const StageCalls> calls,
                                                const PoolOptions<Ref, Ref>& options);

}  // namespace tendril::python
