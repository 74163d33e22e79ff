// The seed README's processing modes: pool mode (items spread over workers), fork mode (every
// worker gets every item, results merged), a CPU-intensive pool, and per-worker state holding
// a client that is created once per worker and reused.
#include <atomic>
#include <cstdio>
#include <numeric>
#include <ranges>
#include <tendril/tendril.hpp>
#include <vector>

namespace td = tendril;

struct HttpClient {  // stands in for httpx.AsyncClient()
  static inline std::atomic<int> created{0};
  HttpClient() { ++created; }
  int get(int url) const { return url * 10; }
};

long heavy_computation(long x) {
  long acc = 0;
  for (long i = 0; i < 10000; ++i) acc += (x * i) % 7;
  return acc;
}

int main() {
  // Pool mode: items distributed across 4 workers.
  auto process = td::work_pool({.num_workers = 4},
                               [](long item, td::WorkerState&) { return heavy_computation(item); });
  auto pooled = (td::Pipeline(std::views::iota(0L, 200L)) >> process).run();

  // Fork mode: each of 3 workers sees each item; results are summed.
  auto aggregate = td::work_pool({.num_workers = 3,
                                  .fork_merge =
                                      [](std::vector<int> results) {
                                        return std::accumulate(results.begin(), results.end(), 0);
                                      }},
                                 [](int item, td::WorkerState& state) {
                                   return item * static_cast<int>(state.worker_index() + 1);
                                 });
  std::vector<int> forked;
  auto fork_pipe = td::Pipeline(std::vector{1, 2, 3}) >> aggregate;
  for (int v : fork_pipe.iter()) forked.push_back(v);
  const int fork_sum = std::accumulate(forked.begin(), forked.end(), 0);  // (1+2+3) * (1+2+3)

  // I/O-bound with retry logic and a client per worker.
  auto fetch_data = td::work_pool(
      {.buffer = 100, .retries = 5, .num_workers = 10}, [](int url, td::WorkerState& state) {
        auto& client = state.get_or_create("client", [] { return HttpClient(); });
        return client.get(url);
      });
  auto fetched = (td::Pipeline(std::views::iota(0, 500)) >> fetch_data).run();

  std::printf("pool: %llu items; fork sum: %d; fetch: %llu items with %d clients\n",
              static_cast<unsigned long long>(pooled ? pooled->processed : 0), fork_sum,
              static_cast<unsigned long long>(fetched ? fetched->processed : 0),
              HttpClient::created.load());
  const bool ok = pooled && pooled->processed == 200 && fork_sum == 36 && fetched &&
                  fetched->processed == 500 && HttpClient::created <= 10;
  return ok ? 0 : 1;
}
