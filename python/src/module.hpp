// python/src/module.hpp — the parts of the _tendril extension module, each adding its names.
#pragma once

#include <pybind11/pybind11.h>

namespace tendril::python {

void add_pipeline(pybind11::module_& module);   // Stage, Run, Failed, Kill
void add_publisher(pybind11::module_& module);  // Publisher
void add_process(pybind11::module_& module);    // set_process_worker_command, serve_...

}  // namespace tendril::python
