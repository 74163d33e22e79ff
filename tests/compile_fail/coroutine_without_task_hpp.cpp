// Compiled by the test suite, never linked: a coroutine handler needs <tendril/task.hpp>, and
// forgetting it must be a compile error that says so.
#include <asio/awaitable.hpp>
#include <tendril/tendril.hpp>
#ifdef WITH_TASK_HPP
#include <tendril/task.hpp>
#endif

int main() {
  auto stage = tendril::work_pool(
      [](int n, tendril::WorkerState&) -> asio::awaitable<int> { co_return n + 1; });
  return stage.num_workers() == 1 ? 0 : 1;
}
