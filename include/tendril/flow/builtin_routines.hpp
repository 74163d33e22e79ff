// tendril/flow/builtin_routines.hpp — routine types every Tendril flow file may name.
//
// | type            | slots | events           | does                                             |
// |-----------------|-------|------------------|--------------------------------------------------|
// | tendril.Relay   | in    | out              | emits every item it takes, unchanged             |
// | tendril.Counter | in    | count {count}    | adds config "step" (1) per item to its routine   |
// |                 |       |                  | state {"count": n} and emits the new count       |
// | tendril.Log     | in    |                  | prints each item as one JSON line on stdout, | |
// |       |                  | prefixed by config "prefix" (the routine id)     |
#pragma once

#include "tendril/flow/flow.hpp"

namespace tendril {

// Registers the types above with `registry` unless they are there already. Idempotent.
void register_builtin_routines(RoutineRegistry& registry = RoutineRegistry::instance());

}  // namespace tendril
