#include <cstdio>
#include <tendril/tendril.hpp>
#include <vector>

int main() {
  auto square =
      tendril::work_pool({.num_workers = 2}, [](int x, tendril::WorkerState&) { return x * x; });
  auto pipe = tendril::Pipeline(std::vector{1, 2, 3}) >> square;
  int sum = 0;
  for (int v : pipe.iter()) sum += v;
  std::printf("consumer: sum of squares = %d\n", sum);
  return sum == 14 ? 0 : 1;
}
