// python/src/publisher_module.cpp — Tendril's lock-free tool-state publisher for Python.
//
// publish_json() queues one state as the front's json.dumps wrote it (sent byte for byte with
// python_wire); it never blocks on Redis. Waits (flush, shutdown) release the GIL. The hooks
// (on_batch, on_warning) run on the publisher's worker thread, which takes the GIL for them and
// holds no lock of the publisher meanwhile.
#include <pybind11/pybind11.h>

#include <chrono>
#include <memory>
#include <string>

#include <tendril/state/publisher.hpp>

#include "module.hpp"
#include "object_ref.hpp"
#include "stage_calls.hpp"

namespace tendril::python {
namespace py = pybind11;
namespace {

std::chrono::milliseconds milliseconds_of(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

class Publisher {
 public:
  Publisher(std::string topic, double flush_interval, std::size_t batch_size,
            std::size_t max_queued, std::size_t max_stream_length, bool python_wire,
            const py::object& on_batch, const py::object& on_warning) {
    state::PublisherOptions options;
    options.topic = std::move(topic);
    options.flush_interval = milliseconds_of(flush_interval);
    options.batch_size = batch_size;
    options.max_queued = max_queued;
    options.max_stream_length = max_stream_length;
    options.max_stream_bytes = 0;  // the original package never trims; max_stream_length may
    options.wire = python_wire ? state::Wire::python : state::Wire::tendril;
    if (!on_batch.is_none())
      options.on_batch = [hook = Ref::borrow(on_batch.ptr())](std::size_t states) {
        try {
          EngineGil gil;
          PyObject* count = PyLong_FromSize_t(states);
          if (!count) return PyErr_WriteUnraisable(hook.get());
          notify(hook, count);
          Py_DECREF(count);
        } catch (const InterpreterExiting&) {  // nobody is left to tell
        }
      };
    if (!on_warning.is_none())
      options.on_warning = [hook = Ref::borrow(on_warning.ptr())](const std::string& line) {
        try {
          EngineGil gil;
          PyObject* text =
              PyUnicode_DecodeUTF8(line.data(), static_cast<Py_ssize_t>(line.size()), "replace");
          if (!text) return PyErr_WriteUnraisable(hook.get());
          notify(hook, text);
          Py_DECREF(text);
        } catch (const InterpreterExiting&) {  // nobody is left to tell
        }
      };
    SignalsStayWithPython signals;  // for the publisher's worker thread
    publisher_ = std::make_unique<state::ToolStatePublisher>(std::move(options));
  }

  // Queues one state, a JSON object as text; false when it was dropped (the queue is full, or
  // the publisher shut down). Never blocks.
  bool publish_json(std::string text) { return publisher_->publish_json(std::move(text)); }

  bool flush(double timeout) {
    py::gil_scoped_release nogil;
    return publisher_->flush(milliseconds_of(timeout));
  }
  bool shutdown(double timeout) {
    py::gil_scoped_release nogil;
    return publisher_->shutdown(milliseconds_of(timeout));
  }

  py::dict stats() const {
    const state::PublisherStats s = publisher_->stats();
    py::dict out;
    out["published"] = s.published;
    out["sent"] = s.sent;
    out["batches"] = s.batches;
    out["dropped"] = s.dropped;
    out["retries"] = s.retries;
    out["depth"] = s.depth;
    out["last_error"] = s.last_error;
    out["destination"] = s.destination;
    return out;
  }

  ~Publisher() {
    py::gil_scoped_release nogil;
    publisher_.reset();
  }

 private:
  std::unique_ptr<state::ToolStatePublisher> publisher_;
};

}  // namespace

void add_publisher(py::module_& module) {
  py::class_<Publisher>(module, "Publisher",
                        "Tendril's tool-state publisher; Redis from PREFECT_REDIS_MESSAGING_*.")
      .def(py::init<std::string, double, std::size_t, std::size_t, std::size_t, bool,
                    const py::object&, const py::object&>(),
           py::arg("topic"), py::arg("flush_interval"), py::arg("batch_size"),
           py::arg("max_queued") = 100'000, py::arg("max_stream_length") = 0,
           py::arg("python_wire") = true, py::arg("on_batch") = py::none(),
           py::arg("on_warning") = py::none())
      .def("publish_json", &Publisher::publish_json, py::arg("text"))
      .def("flush", &Publisher::flush, py::arg("timeout") = 10.0)
      .def("shutdown", &Publisher::shutdown, py::arg("timeout") = 10.0)
      .def("stats", &Publisher::stats);
}

}  // namespace tendril::python
