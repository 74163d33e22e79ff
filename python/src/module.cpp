// python/src/module.cpp — _tendril: Tendril's engine for the Python fronts (pipevine,
// prefect_tool_state). Not meant to be imported by users directly.
#include "module.hpp"

PYBIND11_MODULE(_tendril, module) {
  module.doc() = "Tendril's engine, for the pipevine and prefect_tool_state packages.";
  tendril::python::add_pipeline(module);
  tendril::python::add_publisher(module);
  tendril::python::add_process(module);
}
