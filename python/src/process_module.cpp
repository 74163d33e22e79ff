// python/src/process_module.cpp — multi_proc for Python handlers on Tendril's process workers.
//
// A worker process is a fresh interpreter (the front sets the command: this Python, running
// pipevine._process_worker), never a fork of this multi-threaded one. It registers the one
// process handler "pipevine.pickle" and serves: each request is pickle((function, item)), each
// reply pickle(result) or the attempt's error. Crashes, restarts and their counts, timeouts and
// no-child-left-behind are the engine's (tendril/pipeline/process.hpp).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tendril/pipeline/process.hpp>

#include "module.hpp"
#include "stage_calls.hpp"

namespace tendril::python {
namespace py = pybind11;
namespace {

constexpr const char* kHandlerName = "pipevine.pickle";

PyObject* pickle_dumps = nullptr;  // pickle.dumps and pickle.loads, kept for the module's life
PyObject* pickle_loads = nullptr;
PyObject* serve_item = nullptr;  // in a worker process: pipevine._process_worker.serve_item

// Items and results cross as pickles. Both directions take the GIL themselves: the engine
// calls them on its worker threads.
template <class T>
struct PickleCodec;
template <>
struct PickleCodec<Ref> {
  static std::string encode(const Ref& value) {
    EngineGil gil;
    PyObject* bytes = PyObject_CallOneArg(pickle_dumps, value.get());
    if (!bytes)
      throw std::runtime_error("cannot pickle the handler and item for a worker process: " +
                               take_python_error().message);
    std::string out(PyBytes_AS_STRING(bytes), static_cast<std::size_t>(PyBytes_GET_SIZE(bytes)));
    Py_DECREF(bytes);
    return out;
  }
  static Result<Ref> decode(std::string_view bytes) {
    EngineGil gil;
    PyObject* data = PyBytes_FromStringAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size()));
    PyObject* value = data ? PyObject_CallOneArg(pickle_loads, data) : nullptr;
    Py_XDECREF(data);
    if (!value)
      return std::unexpected(undecodable("the worker's result: " + take_python_error().message));
    return Ref::steal(value);
  }
};

// Stands for the handler in the ProcessHandler the engine's proxy is made from; the worker
// process runs serve_item instead.
struct ServedByName {
  Ref operator()(Ref item) const { return item; }
};

// In a worker process: one request, with the GIL (the serving thread is the interpreter's).
detail::ProcessReply serve_request(std::string_view payload, WorkerState&) {
  PyObject* data =
      PyBytes_FromStringAndSize(payload.data(), static_cast<Py_ssize_t>(payload.size()));
  PyObject* out = data ? PyObject_CallOneArg(serve_item, data) : nullptr;
  Py_XDECREF(data);
  if (!out)
    return {false, "the worker process failed: " + take_python_error().message, ErrorKind::handler};
  // serve_item returns (ok, bytes or message, kind)
  detail::ProcessReply reply;
  PyObject* ok = PyTuple_GetItem(out, 0);
  PyObject* body = PyTuple_GetItem(out, 1);
  PyObject* kind = PyTuple_GetItem(out, 2);
  if (!ok || !body || !kind) {
    Py_DECREF(out);
    return {false, "the worker process gave a malformed reply: " + take_python_error().message,
            ErrorKind::handler};
  }
  reply.ok = PyObject_IsTrue(ok) == 1;
  if (PyBytes_Check(body)) {
    reply.data.assign(PyBytes_AS_STRING(body), static_cast<std::size_t>(PyBytes_GET_SIZE(body)));
  } else if (const char* text = PyUnicode_AsUTF8(body)) {
    reply.data = text;
  }
  const char* kind_text = PyUnicode_AsUTF8(kind);
  reply.kind = kind_text && std::string_view(kind_text) == "kill_switch" ? ErrorKind::kill_switch
                                                                         : ErrorKind::handler;
  PyErr_Clear();
  Py_DECREF(out);
  return reply;
}

}  // namespace

detail::ErasedHandler<Ref, Ref> process_handler(std::shared_ptr<const StageCalls> calls,
                                                const PoolOptions<Ref, Ref>& options) {
  auto proxy = detail::process_proxy<Ref, Ref>(
      ProcessHandler<ServedByName, PickleCodec>(kHandlerName, ServedByName{}), options);
  return [calls = std::move(calls), proxy = std::move(proxy)](
             detail::Carried<Ref>&& input, WorkerState& worker) mutable -> detail::Carried<Ref> {
    Ref request;
    {
      EngineGil gil;
      release_pending();
      PyObject* function = calls->functions[worker.worker_index() % calls->functions.size()].get();
      PyObject* pair = PyTuple_Pack(2, function, input->get());
      if (!pair) {
        PyErr_Clear();
        return detail::carried_error(Error{.message = "out of memory"});
      }
      request = Ref::steal(pair);
    }
    detail::Carried<Ref> out = proxy(detail::Carried<Ref>(std::move(request)), worker);
    if (out && is_set(calls->on_output)) {
      EngineGil gil;
      notify(calls->on_output, out->get());
    }
    return out;
  };
}

void add_process(py::module_& module) {
  py::module_ pickle = py::module_::import("pickle");
  pickle_dumps = py::object(pickle.attr("dumps")).release().ptr();
  pickle_loads = py::object(pickle.attr("loads")).release().ptr();
  detail::register_process_handler(kHandlerName, serve_request);

  module.def(
      "set_process_worker_command",
      [](std::vector<std::string> command) {
        detail::set_process_worker_command(std::move(command));
      },
      py::arg("command"),
      "How worker processes start: an absolute program path, then its arguments.");
  module.def(
      "serve_process_worker",
      [](py::object serve) {
        serve_item = serve.release().ptr();
        serve_process_worker_if_asked(0, nullptr);  // serves and exits when this is a worker
      },
      py::arg("serve_item"),
      "In a worker process: serve requests with serve_item(payload) until the parent is done; "
      "returns at once in any other process.");
}

}  // namespace tendril::python
