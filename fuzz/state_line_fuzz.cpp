// The state-file line decoder: any line is refused or read as a state that writes back (by the
// JSON library and by the publisher's own fast writer, identically) and reads back the same.
#include <tendril/state/reading.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto state = tendril::state::parse_tool_state({reinterpret_cast<const char*>(data), size});
  if (!state) return 0;
  const std::string written = state->to_json().dump();
  std::string fast;
  state->append_json(fast);
  if (fast != written) std::abort();  // the fast writer and the JSON library disagree
  auto again = tendril::state::parse_tool_state(written);
  if (!again || again->to_json() != state->to_json())
    std::abort();  // the round trip lost something
  return 0;
}
