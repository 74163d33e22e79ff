// Many HTTP fetches against a local server, with a bounded number in flight: a coroutine stage
// whose workers each keep one connection open (in their WorkerState) and reuse it.
#include <tendril/task.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <ranges>
#include <string>

#include "support/mini_http.hpp"

namespace td = tendril;

int main() {
  mini_http::Server server;
  std::atomic<int> in_flight{0}, peak{0};

  auto fetch = td::work_pool(
      {.buffer = 16, .retries = 2, .num_workers = 8},
      [&](int n, td::WorkerState& state) -> td::Task<std::string> {
        auto& client =
            state.get_or_create("client", [] { return std::unique_ptr<mini_http::Client>(); });
        if (!client) {  // one connection per worker, opened on its first item
          client = std::make_unique<mini_http::Client>(co_await asio::this_coro::executor);
          co_await client->connect(server.port());
        }
        const int now = ++in_flight;
        for (int seen = peak.load(); now > seen && !peak.compare_exchange_weak(seen, now);) {
        }
        std::string body = co_await client->get("/double/" + std::to_string(n));
        --in_flight;
        co_return body;
      });
  auto parse = td::work_pool([](std::string body, td::WorkerState&) { return std::stol(body); });

  long sum = 0;
  auto pipe = td::Pipeline(std::views::iota(0, 2000)) >> fetch >> parse;
  for (long value : pipe.iter()) sum += value;

  std::printf("fetched 2000 pages, sum %ld, at most %d in flight, %d connections, %d requests\n",
              sum, peak.load(), server.connections(), server.requests());
  const bool ok = sum == 2L * (1999L * 2000L / 2) && peak <= 8 && server.connections() <= 8 &&
                  server.requests() == 2000;
  return ok ? 0 : 1;
}
