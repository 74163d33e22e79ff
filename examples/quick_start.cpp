// The README's first program: two stages over a range, run to the end, then streamed.
#include <tendril/tendril.hpp>

#include <cstdio>
#include <ranges>
#include <stdexcept>

namespace td = tendril;

int main() {
  auto process_data = td::work_pool({.buffer = 10, .retries = 3, .num_workers = 4},
                                    [](int item, td::WorkerState&) { return item * 2; });
  auto validate_data = td::work_pool({.buffer = 5}, [](int item, td::WorkerState&) {
    if (item < 0) throw std::invalid_argument("Negative values not allowed");
    return item;
  });

  auto pipe = td::Pipeline(std::views::iota(-3, 100)) >> process_data >> validate_data;
  td::Result<td::Metrics> result = pipe.run();
  if (!result) {
    std::fprintf(stderr, "pipeline failed: %s\n", result.error().describe().c_str());
    return 1;
  }
  std::printf("%s", result->table().c_str());  // 100 processed, 3 failed (the negatives)

  long sum = 0;
  for (int item : pipe.iter()) sum += item;  // results as they come, in no set order
  std::printf("sum of results: %ld\n", sum);
  return result->processed == 100 && result->failed == 3 && sum == 9900 ? 0 : 1;
}
