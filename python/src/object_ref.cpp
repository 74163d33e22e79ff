#include "object_ref.hpp"

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

namespace tendril::python {
namespace {

// References dropped without the GIL, waiting for a thread that holds it. The mutex is a leaf:
// nothing else is locked, and no Python code runs, while it is held.
std::mutex pending_mutex;
std::vector<PyObject*> pending;  // guarded by pending_mutex
std::atomic<bool> any_pending{false};

// This thread's Python thread state, made at its first EngineGil and kept (without the GIL)
// until the thread exits.
class ThreadState {
 public:
  ThreadState() : gilstate_(PyGILState_Ensure()), saved_(PyEval_SaveThread()) {}
  ~ThreadState() {
    if (_Py_IsFinalizing()) return;  // left to the interpreter: touching it now may crash
    PyEval_RestoreThread(saved_);
    PyGILState_Release(gilstate_);
  }
  ThreadState(const ThreadState&) = delete;
  ThreadState& operator=(const ThreadState&) = delete;
  void acquire() { PyEval_RestoreThread(saved_); }
  void release() { saved_ = PyEval_SaveThread(); }

 private:
  PyGILState_STATE gilstate_;
  PyThreadState* saved_;
};

ThreadState& this_thread_state() {
  thread_local ThreadState state;
  return state;
}

}  // namespace

// Finalizing is read first: PyGILState_Check() is not to be trusted then.
EngineGil::EngineGil() : nested_(!_Py_IsFinalizing() && PyGILState_Check() != 0) {
  if (nested_) return;
  if (_Py_IsFinalizing()) throw InterpreterExiting();
  this_thread_state().acquire();
}

EngineGil::~EngineGil() {
  // Finalizing began while this thread was in a Python call that let the GIL go: Python ends
  // the thread (pthread_exit) when the call asks for it again, and gives it back to no one.
  if (!nested_ && !_Py_IsFinalizing()) this_thread_state().release();
}

SignalsStayWithPython::SignalsStayWithPython() {
  sigset_t blocked;
  sigemptyset(&blocked);
  for (int signal :
       {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGWINCH})
    sigaddset(&blocked, signal);
  pthread_sigmask(SIG_BLOCK, &blocked, &previous_);
}

SignalsStayWithPython::~SignalsStayWithPython() {
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

Ref::Owner::~Owner() {
  if (!object) return;
  if (_Py_IsFinalizing()) return;  // the interpreter reclaims it; touching it now may crash
  if (PyGILState_Check()) {
    Py_DECREF(object);
    return;
  }
  std::lock_guard lock(pending_mutex);
  pending.push_back(object);
  any_pending.store(true, std::memory_order_release);
}

void release_pending() noexcept {
  if (!any_pending.load(std::memory_order_acquire)) return;
  std::vector<PyObject*> batch;
  {
    std::lock_guard lock(pending_mutex);
    batch.swap(pending);
    any_pending.store(false, std::memory_order_relaxed);
  }
  // Outside the lock: a destructor (__del__) may run Python code that drops more Refs.
  for (PyObject* object : batch) Py_DECREF(object);
}

}  // namespace tendril::python
