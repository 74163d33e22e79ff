// python/src/publisher_module.cpp — Tendril's lock-free tool-state publisher for Python.
//
// publish_json() parses one state (the front's json.dumps of it) and queues it; it never
// blocks on Redis. Waits (flush, shutdown) release the GIL.
#include <pybind11/pybind11.h>

#include <chrono>
#include <memory>
#include <string>

#include <tendril/state/publisher.hpp>
#include <tendril/state/reading.hpp>

#include "module.hpp"

namespace tendril::python {
namespace py = pybind11;
namespace {

std::chrono::milliseconds milliseconds_of(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

class Publisher {
 public:
  Publisher(std::string topic, double flush_interval, std::size_t batch_size,
            std::size_t max_queued, std::size_t max_stream_length) {
    state::PublisherOptions options;
    options.topic = std::move(topic);
    options.flush_interval = milliseconds_of(flush_interval);
    options.batch_size = batch_size;
    options.max_queued = max_queued;
    options.max_stream_length = max_stream_length;
    publisher_ = std::make_unique<state::ToolStatePublisher>(std::move(options));
  }

  // Queues one state given as a JSON object; a ValueError naming the problem when it is not
  // one. Never blocks.
  void publish_json(std::string_view text) {
    Result<state::ToolState> parsed = state::parse_tool_state(text);
    if (!parsed) throw py::value_error(parsed.error().message);
    publisher_->publish(std::move(*parsed));
  }

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
      .def(py::init<std::string, double, std::size_t, std::size_t, std::size_t>(), py::arg("topic"),
           py::arg("flush_interval"), py::arg("batch_size"), py::arg("max_queued") = 100'000,
           py::arg("max_stream_length") = 0)
      .def("publish_json", &Publisher::publish_json, py::arg("text"))
      .def("flush", &Publisher::flush, py::arg("timeout") = 10.0)
      .def("shutdown", &Publisher::shutdown, py::arg("timeout") = 10.0)
      .def("stats", &Publisher::stats);
}

}  // namespace tendril::python
