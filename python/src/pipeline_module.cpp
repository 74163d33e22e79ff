// python/src/pipeline_module.cpp — pipeline stages and runs of Python objects on the engine.
//
// The Python front (pipevine) builds a run from a source callable and stages; this file gives
// it `Stage` (an engine stage whose workers call Python handlers) and `Run` (one run, read
// item by item or drained). The rules that keep it safe with the interpreter:
// - engine threads take the GIL only around a Python call, and hold no engine lock meanwhile;
// - a Python thread calling into the engine releases the GIL first, so an engine thread that
//   waits for the GIL never blocks it;
// - items are `Ref`s, dropped by engine threads without the GIL (see object_ref.hpp);
// - every run has ended before the interpreter finalizes: pipevine calls end_runs() at exit,
//   which ends the runs still open and refuses new ones. An engine thread that asked for the
//   GIL later would be ended by Python in the middle of its work (pthread_exit).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <tendril/pipeline/detail/run.hpp>
#include <tendril/pipeline/detail/source.hpp>
#include <tendril/pipeline/stage.hpp>

#include "module.hpp"
#include "object_ref.hpp"
#include "stage_calls.hpp"

namespace tendril::python {
namespace py = pybind11;
namespace {

using namespace std::chrono_literals;

PyObject* failed_type = nullptr;  // _tendril.Failed(message): this attempt failed
PyObject* kill_type = nullptr;    // _tendril.Kill(reason): stop the whole run
// The front's classes, given once by set_types(): what a handler may return instead of a value,
// and the per-worker state it is handed.
PyObject* err_type = nullptr;
PyObject* kill_switch_type = nullptr;
PyObject* worker_state_type = nullptr;

// str(object), never raising: a message for people.
std::string text_of(PyObject* object) {
  if (!object) return {};
  PyObject* text = PyObject_Str(object);
  if (!text) {
    PyErr_Clear();
    return "<unprintable " + std::string(Py_TYPE(object)->tp_name) + ">";
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text, &size);
  std::string out = data ? std::string(data, static_cast<std::size_t>(size)) : std::string();
  if (!data) PyErr_Clear();
  Py_DECREF(text);
  return out;
}

std::string repr_of(PyObject* object) {
  PyObject* repr = object ? PyObject_Repr(object) : nullptr;
  if (!repr) {
    PyErr_Clear();
    return "unknown error";
  }
  std::string out = text_of(repr);
  Py_DECREF(repr);
  return out;
}

// One attempt with the GIL: the handler's value, or why the attempt failed.
Result<Ref> attempt(const StageCalls& calls, PyObject* function, PyObject* item, PyObject* state) {
  PyObject* args[] = {item, state};
  PyObject* out = PyObject_Vectorcall(function, args, 2, nullptr);
  if (!out) return std::unexpected(handler_failure(calls));
  const PyAsyncMethods* async = Py_TYPE(out)->tp_as_async;
  if (async && async->am_await) {  // a coroutine, a future: awaited on the run's loop
    PyObject* awaited = PyObject_CallOneArg(calls.on_await.get(), out);
    Py_DECREF(out);
    if (!awaited) return std::unexpected(handler_failure(calls));
    out = awaited;
  }
  return settle(calls, out);
}

// The handler every worker of a Python stage runs.
detail::ErasedHandler<Ref, Ref> python_handler(std::shared_ptr<const StageCalls> calls) {
  return [calls](detail::Carried<Ref>&& input, WorkerState& worker) -> detail::Carried<Ref> {
    EngineGil gil;
    release_pending();
    if (calls->attempts < 1)
      return detail::carried_error(
          Error{.kind = ErrorKind::handler, .message = "retries < 1: no attempt is made"});
    PyObject* state = python_state(worker);
    if (!state) return detail::carried_error(take_python_error());
    PyObject* function = calls->functions[worker.worker_index() % calls->functions.size()].get();
    for (int left = calls->attempts;; --left) {
      Result<Ref> out = attempt(*calls, function, input->get(), state);
      if (out) {
        notify(calls->on_output, out->get());
        return std::move(*out);
      }
      if (out.error().kind == ErrorKind::kill_switch || left <= 1) {
        if (out.error().kind != ErrorKind::kill_switch) notify(calls->on_path_failed, nullptr);
        return detail::carried_error(std::move(out.error()));
      }
    }
  };
}

// The source: next_item() with the GIL; StopIteration ends the items, any other exception is
// the source's failure (the front keeps the exception itself to report it).
struct PythonSource {
  Ref next_item;
  std::optional<Ref> operator()() {
    EngineGil gil;
    release_pending();
    if (PyObject* out = PyObject_CallNoArgs(next_item.get())) return Ref::steal(out);
    if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
      PyErr_Clear();
      return std::nullopt;
    }
    throw std::runtime_error(take_python_error().message);
  }
};

double seconds_since_epoch(std::chrono::system_clock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}
double seconds(std::chrono::nanoseconds span) {
  return std::chrono::duration<double>(span).count();
}

py::dict metrics_dict(const Metrics& metrics) {
  py::list stages;
  for (const StageMetrics& stage : metrics.stages) {
    py::dict s;
    s["name"] = stage.name;
    s["workers"] = stage.workers;
    s["processed"] = stage.processed;
    s["failed"] = stage.failed;
    s["retried"] = stage.retried;
    s["busy"] = seconds(stage.busy);
    s["queue_capacity"] = stage.queue_capacity;
    s["queue_high_water"] = stage.queue_high_water;
    s["latency_p50"] = seconds(stage.latency_p50);
    s["latency_p99"] = seconds(stage.latency_p99);
    s["latency_max"] = seconds(stage.latency_max);
    s["worker_crashes"] = stage.worker_crashes;
    s["worker_restarts"] = stage.worker_restarts;
    stages.append(std::move(s));
  }
  py::dict out;
  out["start"] = seconds_since_epoch(metrics.start);
  out["stop"] = seconds_since_epoch(metrics.stop);
  out["duration"] = seconds(metrics.duration);
  out["produced"] = metrics.produced;
  out["processed"] = metrics.processed;
  out["failed"] = metrics.failed;
  out["stages"] = std::move(stages);
  out["table"] = metrics.table();
  return out;
}

// An engine stage of Python workers. Immutable; made for each run by the front.
struct StageHandle {
  std::shared_ptr<const detail::StageSpecBase> spec;
};

StageHandle make_stage(std::vector<py::object> functions, std::size_t workers, long long buffer,
                       int retries, int attempts, py::object merge, py::object on_failed,
                       std::string name, py::object on_await, py::object on_interrupt,
                       py::object on_kill, py::object on_output, py::object on_path_failed,
                       bool multi_proc, bool coroutine, py::object on_schedule) {
  if (!err_type) throw py::type_error("_tendril.set_types() has not been called");
  if (functions.empty()) throw py::value_error("a stage needs at least one function");
  auto calls = std::make_shared<StageCalls>();
  for (py::object& f : functions) calls->functions.push_back(Ref::borrow(f.ptr()));
  calls->attempts = attempts;
  calls->on_await = Ref::borrow(on_await.ptr());
  calls->on_schedule = Ref::borrow(on_schedule.ptr());
  calls->on_interrupt = Ref::borrow(on_interrupt.ptr());
  calls->on_kill = Ref::borrow(on_kill.ptr());
  calls->on_output = Ref::borrow(on_output.ptr());
  calls->on_path_failed = Ref::borrow(on_path_failed.ptr());
  PoolOptions<Ref, Ref> options;
  // The original's buffer <= 0 is unbounded; the engine's queue grows as it fills.
  options.buffer =
      buffer > 0 ? static_cast<std::size_t>(buffer) : std::numeric_limits<std::size_t>::max() / 2;
  options.retries = retries;
  options.num_workers = workers;
  options.name = std::move(name);
  if (!merge.is_none()) {
    options.fork_merge = [merge = Ref::borrow(merge.ptr())](std::vector<Ref> parts) -> Ref {
      EngineGil gil;
      PyObject* list = PyList_New(static_cast<Py_ssize_t>(parts.size()));
      if (!list) throw std::runtime_error(take_python_error().message);
      for (std::size_t i = 0; i < parts.size(); ++i) {
        Py_INCREF(parts[i].get());
        PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), parts[i].get());
      }
      PyObject* out = PyObject_CallOneArg(merge.get(), list);
      Py_DECREF(list);
      if (!out) throw std::runtime_error(take_python_error().message);
      return Ref::steal(out);
    };
  }
  if (!on_failed.is_none()) {
    options.dead_letter = [on_failed = Ref::borrow(on_failed.ptr())](const Ref& item,
                                                                     const Error& error) {
      EngineGil gil;
      PyObject* message = PyUnicode_FromStringAndSize(
          error.message.data(), static_cast<Py_ssize_t>(error.message.size()));
      if (!message) {
        PyErr_Clear();
        return;
      }
      PyObject* args[] = {item.get() ? item.get() : Py_None, message};
      PyObject* out = PyObject_Vectorcall(on_failed.get(), args, 2, nullptr);
      Py_DECREF(message);
      if (out)
        Py_DECREF(out);
      else
        PyErr_WriteUnraisable(on_failed.get());
    };
  }
  detail::validate(options);
  auto spec = std::make_shared<detail::StageSpec<Ref, Ref>>();
  if (coroutine && (multi_proc || options.fork_merge || !is_set(calls->on_schedule)))
    throw py::value_error("coroutine stages take no multi_proc or merge, and need on_schedule");
  if (coroutine)
    spec->async_node = coroutine_stage(std::move(calls));
  else
    spec->handlers.push_back(multi_proc ? process_handler(std::move(calls), options)
                                        : python_handler(std::move(calls)));
  spec->accepts_errors.push_back(false);
  spec->options = std::move(options);
  return StageHandle{std::make_shared<detail::ErasedStage<Ref, Ref>>(std::move(spec))};
}

class Run;

// The runs made and not yet dropped, so that the interpreter's exit can end them all; once it
// has (`refused`), no run starts. The mutex is held only to start a run and to list them, never
// while a run is ended: an engine thread being waited for may itself make or drop a run (a
// handler running a nested pipeline).
struct OpenRuns {
  std::mutex mutex;
  std::vector<std::weak_ptr<Run>> runs;  // guarded by mutex; expired ones pruned on each start
  bool refused = false;                  // guarded by mutex
};
OpenRuns& open_runs() {
  static auto* runs = new OpenRuns;  // never destroyed: engine threads may outlive statics
  return *runs;
}

// One run: started when made, its outputs read with next()/next_batch()/drain(), ended by
// finish() (which cancels it when outputs were left unread). Dropping it ends it too. Made by
// start(), which throws std::runtime_error once the interpreter is exiting (end_runs()).
class Run {
 public:
  // Without the GIL.
  static std::shared_ptr<Run> start(Ref next_item, const std::vector<StageHandle>& stages,
                                    std::size_t max_buffer) {
    OpenRuns& open = open_runs();
    std::lock_guard lock(open.mutex);  // end_all() either sees this run or refuses it
    if (open.refused) throw std::runtime_error("the Python interpreter is exiting: no run starts");
    auto run = std::make_shared<Run>(std::move(next_item), stages, max_buffer);
    std::erase_if(open.runs, [](const std::weak_ptr<Run>& r) { return r.expired(); });
    open.runs.push_back(run);
    return run;
  }

  Run(Ref next_item, const std::vector<StageHandle>& stages, std::size_t max_buffer)
      : sink_(max_buffer ? max_buffer : 1),
        core_(std::make_unique<detail::RunCore>(
            std::make_shared<detail::GeneratorSource<PythonSource, Ref>>(
                PythonSource{std::move(next_item)}),
            chain(stages), sink_)) {
    core_->context().on_abort([this] { sink_.queue().abort(); });
    core_->on_finished([this] { sink_.queue().close(); });
    SignalsStayWithPython signals;
    core_->start();
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run() {  // dropped with the GIL (see end_all); the engine threads may be waiting for it
    py::gil_scoped_release nogil;
    end();
  }

  // Ends every run not yet dropped (cancelled with `reason`, then waited for: each run's engine
  // threads have ended on return) and refuses new ones. Without the GIL; for the interpreter's
  // exit. All are cancelled before any is waited for: a run whose source reads another run
  // ends when that one does. Returns the runs, to be let go with the GIL.
  static std::vector<std::shared_ptr<Run>> end_all(const std::string& reason) {
    std::vector<std::shared_ptr<Run>> runs;
    {
      OpenRuns& open = open_runs();
      std::lock_guard lock(open.mutex);
      open.refused = true;
      for (const std::weak_ptr<Run>& weak : open.runs)
        if (std::shared_ptr<Run> run = weak.lock()) runs.push_back(std::move(run));
      open.runs.clear();
    }
    for (const auto& run : runs) run->cancel_without_gil(reason);
    for (const auto& run : runs) run->end();
    return runs;
  }

  // The next output, waiting without the GIL; StopIteration at the end. Signals (Ctrl-C) are
  // checked while it waits.
  py::object next() {
    std::optional<Ref> item = pop();
    if (!item) throw py::stop_iteration();
    return py::reinterpret_borrow<py::object>(item->get());
  }

  // Up to `most` outputs: waits for the first, then takes what is there. Empty at the end.
  py::list next_batch(std::size_t most) {
    std::vector<Ref> batch;
    if (std::optional<Ref> first = pop()) {
      batch.push_back(std::move(*first));
      py::gil_scoped_release nogil;
      while (batch.size() < most) {
        std::optional<detail::Envelope<Ref>> envelope = sink_.queue().try_pop();
        if (!envelope) break;
        if (envelope->value) batch.push_back(std::move(*envelope->value));
      }
    }
    py::list out;
    for (Ref& item : batch) out.append(py::reinterpret_borrow<py::object>(item.get()));
    return out;
  }

  // Reads every output to the end; `emit(item)` sees each (None: they are dropped).
  void drain(py::object emit) {
    for (;;) {
      py::list batch = next_batch(256);
      if (batch.empty()) return;
      if (!emit.is_none())
        for (py::handle item : batch) emit(item);
    }
  }

  // Ends the run with ErrorKind::cancelled and `reason`, unless it already ended. Any thread.
  bool cancel(const std::string& reason) {
    py::gil_scoped_release nogil;
    return cancel_without_gil(reason);
  }

  // Waits for every engine thread and says how the run went:
  // {"ok", "kind", "message", "metrics"}. Once; later calls return the same.
  py::dict finish() {
    {
      py::gil_scoped_release nogil;
      end();
    }
    release_pending();
    py::dict out;
    out["ok"] = outcome_->has_value();
    out["kind"] = outcome_->has_value() ? "" : to_string(outcome_->error().kind);
    out["message"] = outcome_->has_value() ? "" : outcome_->error().message;
    out["metrics"] = metrics_ ? py::object(metrics_dict(*metrics_)) : py::object(py::none());
    return out;
  }

 private:
  static detail::StageChain chain(const std::vector<StageHandle>& stages) {
    detail::StageChain out;
    for (const StageHandle& stage : stages) out.push_back(stage.spec);
    return out;
  }

  // With the GIL; waits without it, checking for signals every 50 ms.
  std::optional<Ref> pop() {
    for (;;) {
      bool timed_out = false;
      std::optional<detail::Envelope<Ref>> envelope;
      {
        py::gil_scoped_release nogil;
        envelope = sink_.queue().pop_for(50ms, timed_out);
      }
      if (timed_out) {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        continue;
      }
      if (!envelope) {
        drained_ = true;
        return std::nullopt;
      }
      if (envelope->value) return std::move(*envelope->value);
      // An error passed downstream as a value: the front's stages never pass them.
    }
  }

  bool cancel_without_gil(const std::string& reason) {
    std::lock_guard lock(core_mutex_);
    return core_ && core_->context().fail(Error{.kind = ErrorKind::cancelled, .message = reason});
  }

  // Without the GIL. The engine's side of the run (stages, worker states, worker processes)
  // goes with it: the stages hold the front's hooks, which hold this Run, a cycle that Python's
  // collector cannot see.
  void end() {
    std::lock_guard lock(end_mutex_);
    if (outcome_) return;
    if (!drained_)
      core_->context().fail(
          Error{.kind = ErrorKind::cancelled, .message = "iteration stopped before the end"});
    outcome_ = core_->finish(metrics_);
    std::unique_ptr<detail::RunCore> done;
    {
      std::lock_guard core_lock(core_mutex_);
      done = std::move(core_);
    }
  }

  detail::QueueInlet<Ref> sink_;
  std::mutex core_mutex_;                  // held briefly, to reach core_ while end() may let it go
  std::unique_ptr<detail::RunCore> core_;  // guarded by core_mutex_ once the run is under way
  std::atomic<bool> drained_ = false;      // set by the thread holding the GIL
  std::mutex end_mutex_;
  std::optional<Result<Metrics>> outcome_;  // guarded by end_mutex_
  std::optional<Metrics> metrics_;          // guarded by end_mutex_
};

}  // namespace

Error handler_failure(const StageCalls& calls) {
  if (PyErr_ExceptionMatches(PyExc_Exception)) return take_python_error();
  PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
  PyErr_Fetch(&type, &value, &trace);
  PyErr_NormalizeException(&type, &value, &trace);
  if (trace && value) PyException_SetTraceback(value, trace);
  std::string name = type ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "an exception";
  notify(calls.on_interrupt, value ? value : Py_None);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(trace);
  return Error{.kind = ErrorKind::kill_switch, .message = "interrupted by " + name};
}

PyObject* python_state(WorkerState& state) {
  if (Ref* existing = state.get<Ref>("pipevine.state")) return existing->get();
  PyObject* values = PyDict_New();
  PyObject* made = values ? PyObject_CallOneArg(worker_state_type, values) : nullptr;
  Py_XDECREF(values);
  if (!made) return nullptr;
  return state.set<Ref>("pipevine.state", Ref::steal(made)).get();
}

Result<Ref> settle(const StageCalls& calls, PyObject* out) {
  Ref value = Ref::steal(out);
  if (PyObject_TypeCheck(out, reinterpret_cast<PyTypeObject*>(err_type)))
    return std::unexpected(Error{.kind = ErrorKind::handler, .message = text_of(out)});
  if (PyObject_TypeCheck(out, reinterpret_cast<PyTypeObject*>(kill_switch_type))) {
    PyObject* reason = PyObject_GetAttrString(out, "reason");
    std::string text = reason ? text_of(reason) : "kill switch";
    if (!reason) PyErr_Clear();
    notify(calls.on_kill, reason ? reason : Py_None);
    Py_XDECREF(reason);
    return std::unexpected(Error{.kind = ErrorKind::kill_switch, .message = std::move(text)});
  }
  return value;
}

Error take_python_error() {
  PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
  PyErr_Fetch(&type, &value, &trace);
  PyErr_NormalizeException(&type, &value, &trace);
  Error error{.kind = ErrorKind::handler};
  if (type && PyErr_GivenExceptionMatches(type, kill_type)) {
    error.kind = ErrorKind::kill_switch;
    error.message = text_of(value);
  } else if (type && PyErr_GivenExceptionMatches(type, failed_type)) {
    error.message = text_of(value);
  } else {
    error.message = repr_of(value);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(trace);
  return error;
}

bool is_set(const Ref& hook) { return hook && hook.get() != Py_None; }

void notify(const Ref& hook, PyObject* arg) {
  if (!is_set(hook)) return;
  PyObject* out = arg ? PyObject_CallOneArg(hook.get(), arg) : PyObject_CallNoArgs(hook.get());
  if (out)
    Py_DECREF(out);
  else
    PyErr_WriteUnraisable(hook.get());
}

void add_pipeline(py::module_& module) {
  failed_type = PyErr_NewExceptionWithDoc(
      "_tendril.Failed", "An attempt failed; str() is its message.", PyExc_Exception, nullptr);
  kill_type = PyErr_NewExceptionWithDoc("_tendril.Kill",
                                        "A kill switch: stop the whole run; str() is the reason.",
                                        PyExc_Exception, nullptr);
  if (!failed_type || !kill_type) throw py::error_already_set();
  module.add_object("Failed", py::handle(failed_type));
  module.add_object("Kill", py::handle(kill_type));

  module.def(
      "set_types",
      [](py::object err, py::object kill_switch, py::object worker_state) {
        err_type = err.release().ptr();  // kept for the module's life
        kill_switch_type = kill_switch.release().ptr();
        worker_state_type = worker_state.release().ptr();
      },
      py::arg("err"), py::arg("kill_switch"), py::arg("worker_state"),
      "The front's Err, KillSwitch and WorkerState classes; once, before any Stage.");

  py::class_<StageHandle>(module, "Stage", "An engine stage of Python workers.")
      .def(py::init(&make_stage), py::kw_only(), py::arg("functions"), py::arg("workers"),
           py::arg("buffer"), py::arg("retries"), py::arg("attempts"), py::arg("merge"),
           py::arg("on_failed"), py::arg("name"), py::arg("on_await"), py::arg("on_interrupt"),
           py::arg("on_kill"), py::arg("on_output"), py::arg("on_path_failed"),
           py::arg("multi_proc") = false, py::arg("coroutine") = false,
           py::arg("on_schedule") = py::none());

  py::class_<Run, std::shared_ptr<Run>>(module, "Run",
                                        "One run of a source through stages, started when made.")
      .def(py::init(
               [](py::object next_item, std::vector<StageHandle> stages, std::size_t max_buffer) {
                 Ref source = Ref::borrow(next_item.ptr());
                 py::gil_scoped_release nogil;
                 return Run::start(std::move(source), stages, max_buffer);
               }),
           py::arg("next_item"), py::arg("stages"), py::arg("max_buffer") = 64)
      .def("next", &Run::next)
      .def("next_batch", &Run::next_batch, py::arg("most") = 256)
      .def("drain", &Run::drain, py::arg("emit") = py::none())
      .def("cancel", &Run::cancel, py::arg("reason"))
      .def("finish", &Run::finish);
  module.def(
      "end_runs",
      [](const std::string& reason) {
        std::vector<std::shared_ptr<Run>> ended;
        {
          py::gil_scoped_release nogil;
          ended = Run::end_all(reason);
        }
        // `ended` goes here, with the GIL: a run may be dropped only with it.
      },
      py::arg("reason"),
      "Ends every run still open (cancelled with `reason`; returns when their engine threads "
      "have ended) and refuses new ones: for the interpreter's exit.");
}

}  // namespace tendril::python
