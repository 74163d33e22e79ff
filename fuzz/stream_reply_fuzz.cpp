// The stream-entry decoder `watch` reads Redis with: any reply a server (or something posing as
// one) sends is decoded or refused; every entry is counted, and what is kept is a valid state.
#include <tendril/redis/connection.hpp>
#include <tendril/state/reading.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto reply = tendril::redis::decode_reply({reinterpret_cast<const char*>(data), size});
  if (!reply) return 0;
  if (auto batch = tendril::state::decode_xread(*reply)) {
    for (const auto& state : batch->states) (void)state.to_json().dump();
  }
  if (auto batch = tendril::state::decode_stream_entries(*reply)) {
    if (batch->entries != reply->elements.size()) std::abort();
    for (const auto& state : batch->states) (void)state.to_json().dump();
  }
  return 0;
}
