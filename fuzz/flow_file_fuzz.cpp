// The flow-file loader: any bytes are either refused with an error or give a flow that
// validates, draws, and writes JSON that loads back to the same flow. Nothing throws.
#include <tendril/flow.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool registered = (tendril::register_builtin_routines(), true);
  (void)registered;
  auto json = tendril::read_json({reinterpret_cast<const char*>(data), size});
  if (!json) return 0;
  auto flow = tendril::Flow::from_json(*json);
  if (!flow) return 0;
  (void)flow->validate();
  (void)flow->to_dot();
  auto written = flow->to_json();
  if (!written) std::abort();  // a loaded flow's routines all came from registered types
  auto again = tendril::Flow::from_json(*written);
  if (!again) std::abort();  // what the flow wrote does not load
  auto rewritten = again->to_json();
  if (!rewritten || *rewritten != *written) std::abort();  // the round trip changed the flow
  return 0;
}
