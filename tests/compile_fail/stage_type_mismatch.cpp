// Compiled by the test suite, never linked: a stage that takes std::string after a pipeline of
// int must not compile, and the error must name both types.
#include <string>
#include <tendril/tendril.hpp>
#include <vector>

int main() {
  std::vector<int> numbers{1, 2, 3};
#ifdef TYPES_AGREE
  auto shout = tendril::work_pool([](int n, tendril::WorkerState&) { return n + 1; });
#else
  auto shout = tendril::work_pool([](std::string s, tendril::WorkerState&) { return s + "!"; });
#endif
  auto pipe = tendril::Pipeline(numbers) >> shout;
  return pipe.run() ? 0 : 1;
}
