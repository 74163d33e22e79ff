// The seed README's error handling: a handler that raises on some items is retried (3 attempts);
// items that still fail are dropped and counted, and the pipeline as a whole succeeds.
#include <cstdio>
#include <ranges>
#include <stdexcept>
#include <tendril/tendril.hpp>

namespace td = tendril;

bool should_fail(int item) { return item % 7 == 0; }

int main() {
  auto might_fail = td::work_pool({.retries = 3}, [](int item, td::WorkerState&) {
    if (should_fail(item)) throw std::runtime_error("Processing failed");
    return item * 2;
  });
  auto pipe = td::Pipeline(std::views::iota(1, 50)) >> might_fail;
  auto result = pipe.run();
  if (td::is_err(result)) {
    std::printf("Pipeline failed: %s\n", result.error().describe().c_str());
    return 1;
  }
  std::printf("Pipeline completed successfully: %llu processed, %llu failed, %llu retried\n",
              static_cast<unsigned long long>(result->processed),
              static_cast<unsigned long long>(result->failed),
              static_cast<unsigned long long>(result->stages[0].retried));
  // 7 multiples of 7 in 1..49, each tried 3 times.
  return result->processed == 42 && result->failed == 7 && result->stages[0].retried == 14 ? 0 : 1;
}
