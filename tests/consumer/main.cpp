#include <tendril/state/publisher.hpp>
#include <tendril/tendril.hpp>

#include <cstdio>
#include <vector>

int main() {
  auto square =
      tendril::work_pool({.num_workers = 2}, [](int x, tendril::WorkerState&) { return x * x; });
  auto pipe = tendril::Pipeline(std::vector{1, 2, 3}) >> square;
  int sum = 0;
  for (int v : pipe.iter()) sum += v;
  std::printf("consumer: sum of squares = %d\n", sum);

  // Tool state, to the default sink (no Redis configured here).
  namespace ts = tendril::state;
  ts::ToolStatePublisher publisher({.use_environment = false, .sink_path = "/dev/null"});
  publisher.publish(ts::ToolState{.state = "COMPLETED", .tool_name = "consumer"});
  const bool sent = publisher.shutdown();
  return sum == 14 && sent && publisher.stats().sent == 1 ? 0 : 1;
}
