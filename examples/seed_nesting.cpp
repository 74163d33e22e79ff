// The seed README's two nesting forms: a pipeline appended with >> (its own source is replaced
// by the parent's), and a pipeline used as the source of another.
#include <algorithm>
#include <cstdio>
#include <tendril/tendril.hpp>
#include <vector>

namespace td = tendril;

int main() {
  auto stage1 = td::work_pool([](int x, td::WorkerState&) { return x + 1; });
  auto stage2 = td::work_pool([](int x, td::WorkerState&) { return x * 2; });
  auto stage3 = td::work_pool([](int x, td::WorkerState&) { return x - 1; });
  std::vector<int> data{1, 2, 3};

  // Pipeline(data) >> stage1 >> stage2 >> (Pipeline(iter([])) >> stage3)
  std::vector<int> nothing;
  auto appended = td::Pipeline(data) >> stage1 >> stage2 >> (td::Pipeline(nothing) >> stage3);

  // Pipeline(Pipeline(data) >> stage1 >> stage2) >> stage3
  auto nested = td::Pipeline(td::Pipeline(data) >> stage1 >> stage2) >> stage3;

  std::vector<int> a, b;
  for (int v : appended.iter()) a.push_back(v);
  for (int v : nested.iter()) b.push_back(v);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  for (int v : a) std::printf("%d ", v);
  std::printf("\n");
  return a == std::vector<int>{3, 5, 7} && a == b ? 0 : 1;
}
