// Compiled by the test suite, never linked: a process handler whose item type no codec can
// carry must not compile, and the error must name the type. With CROSSES the type gets
// to_json/from_json and the same file compiles (the control).
#include <tendril/pipeline/process.hpp>

#include <nlohmann/json.hpp>

struct Opaque {
  int* where = nullptr;
};

#ifdef CROSSES
void to_json(nlohmann::json& j, const Opaque& o) { j = o.where != nullptr; }
void from_json(const nlohmann::json&, Opaque& o) { o.where = nullptr; }
#endif

const auto peek = tendril::process_handler("peek", [](Opaque o) { return o.where != nullptr; });

int main() { return 0; }
