// python/src/object_ref.hpp — a Python object as an engine item: copied, moved and dropped by
// engine threads without the GIL.
//
// A `Ref` shares one strong reference to the object (the count of Refs is atomic, the object's
// own refcount is touched once, with the GIL). The last Ref to go releases the reference: at
// once when its thread holds the GIL, otherwise it is queued and released by the next thread
// that calls release_pending() with the GIL (every handler call and every run's end do). While
// the interpreter is finalizing, nothing is released: the objects are left to it.
#pragma once

#include <Python.h>

#include <memory>
#include <stdexcept>

#include <signal.h>

namespace tendril::python {

// Drops the references queued by Refs that ended without the GIL. Call with the GIL held.
void release_pending() noexcept;

// What EngineGil throws once the interpreter is finalizing: Python would end the calling thread
// in the middle of its work (pthread_exit) rather than give it the GIL. Where an engine thread
// calls Python, this becomes the item's failure, and the thread goes on to end with its run.
class InterpreterExiting : public std::runtime_error {
 public:
  InterpreterExiting() : std::runtime_error("the Python interpreter is exiting") {}
};

// Holds the GIL for a scope on an engine thread. Unlike pybind11's gil_scoped_acquire, which
// makes and deletes a Python thread state every time, the thread keeps its state from its
// first call until it exits: taking the GIL is then one PyEval_RestoreThread. Throws
// InterpreterExiting instead once the interpreter is finalizing (pipevine ends every run at
// exit, before that: this is for a run started after).
class EngineGil {
 public:
  EngineGil();
  ~EngineGil();
  EngineGil(const EngineGil&) = delete;
  EngineGil& operator=(const EngineGil&) = delete;

 private:
  bool nested_;  // the thread held the GIL already
};

// For a scope in which engine threads are started: they inherit the signals blocked here, so
// that a signal sent to the process (SIGINT, SIGTERM...) lands on a Python thread. Python runs
// handlers on the main thread only, and one that lands on an engine thread wakes nobody: an
// asyncio loop waiting in epoll would never see a Ctrl-C.
class SignalsStayWithPython {
 public:
  SignalsStayWithPython();
  ~SignalsStayWithPython();
  SignalsStayWithPython(const SignalsStayWithPython&) = delete;
  SignalsStayWithPython& operator=(const SignalsStayWithPython&) = delete;

 private:
  sigset_t previous_;
};

class Ref {
 public:
  Ref() = default;
  // Takes over `owned`, a new (strong) reference; call with the GIL held.
  static Ref steal(PyObject* owned) {
    Ref ref;
    ref.owner_ = std::make_shared<Owner>(owned);
    return ref;
  }
  // A new strong reference to `borrowed`; call with the GIL held.
  static Ref borrow(PyObject* borrowed) {
    Py_XINCREF(borrowed);
    return steal(borrowed);
  }

  // The object, borrowed (valid while this Ref lives); any thread may read the pointer, only
  // a thread holding the GIL may use it.
  PyObject* get() const noexcept { return owner_ ? owner_->object : nullptr; }
  explicit operator bool() const noexcept { return get() != nullptr; }

 private:
  struct Owner {
    explicit Owner(PyObject* o) : object(o) {}
    Owner(const Owner&) = delete;
    Owner& operator=(const Owner&) = delete;
    ~Owner();
    PyObject* object;
  };
  std::shared_ptr<const Owner> owner_;
};

}  // namespace tendril::python
